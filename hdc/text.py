"""Text scenes like the HDC2021 e-ink display, and their geometry in a camera frame.

Three lines of 10 random characters are drawn on a small binary "display"
(one e-ink pixel per array element), then sampled into the camera frame at
about 7.5 camera pixels per display pixel, with the camera's scale, shift,
rotation and radial distortion. The measured layout of the real sharp
captures (text block about 1570-1760 x 790-830 camera pixels, centred) is
reproduced; see docs/calibration.md.
"""

import dataclasses
import functools
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hdc.physics import CAMERA_SHAPE

DISPLAY_SHAPE = (230, 350)
LINE_LENGTH = 10

# Look-alikes of the two challenge fonts, best first. The first available one
# is the font of the official-layout files; training draws from all of them.
FONT_FAMILIES = {
    "Times": ("Liberation Serif", "Nimbus Roman", "TeX Gyre Termes", "DejaVu Serif", "Bitstream Vera Serif"),
    "Verdana": ("DejaVu Sans", "Bitstream Vera Sans", "Liberation Sans", "Nimbus Sans", "TeX Gyre Heros"),
}

# More families for training only (`--fonts wide` of hdc.train), by the class whose size and pitch they take:
# other serif and sans shapes, widths and monospaced faces, so that the network learns strokes rather than the
# look-alikes' letters. URW's P052 and URW Gothic stay out: they are the font-shift test's (`make fonts`).
TRAINING_FAMILIES = {
    "Times": ("C059", "URW Bookman", "Nimbus Mono PS", "Liberation Mono"),
    "Verdana": ("Nimbus Sans Narrow", "DejaVu Sans Mono", "Bitstream Vera Sans Mono"),
}
# "varied" is "wide" with each text's glyphs also bolder or lighter, narrower or wider and slanted
# (`GLYPH_VARIATION`): shapes that no installed family has.
FONT_POOLS = ("look-alikes", "wide", "varied")
# Ranges of the "varied" pool: stroke weight change (display pixels, both sides of a stroke together; the
# look-alikes' strokes are about 3 wide), horizontal stretch (factor) and slant (horizontal shift per row).
GLYPH_VARIATION = {"weight": (-0.8, 1.2), "stretch": (0.85, 1.12), "slant": (-0.1, 0.1)}
# Supersampling factor of the display when the glyphs are varied.
GLYPH_SUPERSAMPLING = 4

# Font size in display pixels and line pitch (in font sizes), measured on the
# real sharp captures (docs/calibration.md).
FONT_SIZE = {"Times": 35.0, "Verdana": 32.5}
LINE_PITCH = {"Times": 1.05, "Verdana": 1.21}
# Baseline of the middle line below the display centre, in font sizes.
BASELINE_DROP = {"Times": 0.27, "Verdana": 0.52}


@functools.lru_cache(maxsize=None)
def find_font(family):
    """Path of the regular face of an installed font family, or None."""
    from matplotlib import font_manager

    try:
        return font_manager.findfont(font_manager.FontProperties(family=family, style="normal", weight="normal"),
                                     fallback_to_default=False)
    except ValueError:
        return None


def font_paths(kind, primary_only=False, family=None, pool="look-alikes"):
    """Installed font files for "Times" or "Verdana" look-alikes (the primary one first), with the
    `TRAINING_FAMILIES` of that class for `pool` "wide" or "varied", or of `family` alone (any installed family, drawn
    instead of the look-alikes: a font-shift test).

    Raises `RuntimeError` naming the Debian packages to install when none is found.
    """
    if family:
        families = (family,)
    elif primary_only:
        families = FONT_FAMILIES[kind][:1]
    else:
        families = FONT_FAMILIES[kind] + (TRAINING_FAMILIES[kind] if pool != "look-alikes" else ())
    paths = [path for path in (find_font(name) for name in families) if path]
    paths = list(dict.fromkeys(paths))
    if not paths:
        raise RuntimeError(f"no font found for {kind} ({', '.join(families)}); install the Debian packages "
                           "fonts-liberation2 fonts-dejavu-core fonts-urw-base35 ttf-bitstream-vera")
    return [str(path) for path in paths]


def random_line(rng, length=LINE_LENGTH, digits=True, space_probability=0.05):
    """A random line of upper- and lower-case letters, digits and occasional spaces."""
    alphabet = string.ascii_letters * 3 + (string.digits * 2 if digits else "")
    characters = [" " if rng.random() < space_probability else alphabet[rng.integers(len(alphabet))]
                  for _ in range(length)]
    if characters[-1] == " ":  # the true text is right-stripped by the scorer
        characters[-1] = alphabet[rng.integers(len(alphabet))]
    if not "".join(characters).strip():
        characters[0] = alphabet[rng.integers(len(alphabet))]
    return "".join(characters)


def random_text(rng, lines=3, digits=True):
    """Three random lines, as a list of strings."""
    return [random_line(rng, digits=digits) for _ in range(lines)]


@dataclasses.dataclass(frozen=True)
class Layout:
    """How the text sits on the display: size, pitch, offset, stroke weight (the rendering's threshold and
    `weight`, a change of the strokes' width in display pixels), horizontal `stretch` and `slant`."""

    font_path: str
    size: float
    pitch: float
    offset: tuple = (0.0, 0.0)
    threshold: int = 128
    baseline_drop: float = 0.33
    weight: float = 0.0
    stretch: float = 1.0
    slant: float = 0.0

    @property
    def varied(self):
        return (self.weight, self.stretch, self.slant) != (0.0, 1.0, 0.0)


def draw_layout(kind, rng, primary_only=False, jitter=True, family=None, pool="look-alikes"):
    """A random `Layout` for "Times" or "Verdana": a font of the `pool` (`font_paths`; or `family`, drawing
    from `rng` as the primary look-alike does) and sizes near the measured ones; for the pool "varied" also
    the glyphs' weight, stretch and slant (`GLYPH_VARIATION`, drawn after the rest)."""
    paths = font_paths(kind, primary_only, family, pool)
    path = paths[0] if primary_only or family else paths[rng.integers(len(paths))]
    if not jitter:
        return Layout(path, FONT_SIZE[kind], LINE_PITCH[kind], baseline_drop=BASELINE_DROP[kind])
    layout = Layout(path, FONT_SIZE[kind] * rng.uniform(0.92, 1.08), LINE_PITCH[kind] * rng.uniform(0.94, 1.06),
                    (rng.uniform(-4, 4), rng.uniform(-5, 5)), int(rng.integers(100, 160)), BASELINE_DROP[kind])
    if pool != "varied" or primary_only or family:
        return layout
    return dataclasses.replace(layout, **{name: rng.uniform(*bounds) for name, bounds in GLYPH_VARIATION.items()})


def render_display(lines, layout, shape=DISPLAY_SHAPE):
    """Draw `lines` on a binary e-ink display.

    Returns
    -------
    (rows, columns) float32: 1 = white pixel, 0 = black pixel.
    """
    if layout.varied:
        return vary_glyphs(draw_lines(lines, layout, shape, GLYPH_SUPERSAMPLING), layout, GLYPH_SUPERSAMPLING)
    return (np.asarray(draw_lines(lines, layout, shape)) >= layout.threshold).astype(np.float32)


def draw_lines(lines, layout, shape, supersampling=1):
    """The lines drawn in gray (PIL "L", 255 = white) on a display of `shape` times `supersampling`."""
    font = ImageFont.truetype(layout.font_path, int(round(layout.size)) * supersampling)
    picture = Image.new("L", (shape[1] * supersampling, shape[0] * supersampling), 255)
    draw = ImageDraw.Draw(picture)
    centre_x = shape[1] / 2 + layout.offset[0]
    middle = shape[0] / 2 + layout.offset[1] + layout.baseline_drop * layout.size
    for index, line in enumerate(lines):
        baseline = middle + (index - (len(lines) - 1) / 2) * layout.pitch * layout.size
        draw.text((centre_x * supersampling, baseline * supersampling), line, fill=0, font=font, anchor="ms")
    return picture


def vary_glyphs(picture, layout, supersampling):
    """Stretch and slant the supersampled `picture` of `draw_lines` about the display's centre, change its
    strokes' width by `layout.weight` display pixels, and reduce it to a binary display (as `render_display`)."""
    from scipy import ndimage

    columns, rows = picture.size
    centre_x, centre_y = columns / 2 + layout.offset[0] * supersampling, rows / 2
    # each output pixel (x, y) samples the drawing at (a x + b y + c, y)
    a, b = 1 / layout.stretch, layout.slant
    picture = picture.transform(picture.size, Image.Transform.AFFINE,
                                (a, b, centre_x * (1 - a) - b * centre_y, 0, 1, 0), Image.Resampling.BILINEAR,
                                fillcolor=255)
    ink = np.asarray(picture) < 128
    reach = layout.weight / 2 * supersampling
    if reach > 0:
        ink = ndimage.distance_transform_edt(~ink) <= reach
    elif reach < 0:
        ink = ndimage.distance_transform_edt(ink) > -reach
    coverage = ink.reshape(rows // supersampling, supersampling, columns // supersampling, supersampling).mean((1, 3))
    return (255 * (1 - coverage) >= layout.threshold).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Where a camera sees the display.

    pixels_per_display : camera pixels per display pixel, vertically.
    aspect : horizontal / vertical size of a display pixel in the camera (the
        real captures show text about 6 % wider than the look-alike fonts).
    shift : (y, x) of the frame centre on the display, in display pixels.
    rotation : radians.
    distortion : (k1, k2) of the radial factor 1 + k1 r² + k2 r⁴ (r = 1 at the frame's half width).
    """

    pixels_per_display: float = 7.5
    aspect: float = 1.06
    shift: tuple = (0.0, 0.0)
    rotation: float = 0.0
    distortion: tuple = (0.0, 0.0)


def draw_geometry(rng, relative_to=None):
    """A random `Geometry`; `relative_to` gives CAM02's geometry close to CAM01's (scale 0.93-1.01)."""
    if relative_to is None:
        return Geometry(rng.uniform(7.3, 7.7), rng.uniform(1.02, 1.10), (rng.uniform(-3, 3), rng.uniform(-3, 3)),
                        rng.uniform(-0.006, 0.006), (rng.uniform(-0.03, 0.03), rng.uniform(-0.02, 0.02)))
    return Geometry(relative_to.pixels_per_display * rng.uniform(0.93, 1.01), relative_to.aspect,
                    (relative_to.shift[0] + rng.uniform(-2, 2), relative_to.shift[1] + rng.uniform(-2, 2)),
                    relative_to.rotation + rng.uniform(-0.004, 0.004),
                    (rng.uniform(-0.04, 0.04), rng.uniform(-0.02, 0.02)))


def display_coordinates(geometry, display_shape, shape=CAMERA_SHAPE):
    """For each camera pixel, the (row, column) it sees on the display: two (H, W) float32 arrays."""
    rows, columns = shape
    half = columns / 2.0
    y = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2.0)[:, None] / half
    x = (np.arange(columns, dtype=np.float32) - (columns - 1) / 2.0)[None, :] / half
    radius2 = x * x + y * y
    k1, k2 = geometry.distortion
    factor = (1.0 + k1 * radius2 + k2 * radius2 * radius2) * (half / geometry.pixels_per_display)
    cos, sin = np.cos(geometry.rotation), np.sin(geometry.rotation)
    display_x = (cos * x - sin * y) * factor / geometry.aspect + display_shape[1] / 2.0 + geometry.shift[1]
    display_y = (sin * x + cos * y) * factor + display_shape[0] / 2.0 + geometry.shift[0]
    return display_y, display_x


def sample_scene(display, geometry, ink=0.12, shape=CAMERA_SHAPE):
    """The scene a camera sees: reflectance (H, W) float32, paper 1 and ink `ink`.

    Each camera pixel takes the display pixel under its centre; the display is
    larger than the frame, and anything outside it is paper.
    """
    display_y, display_x = display_coordinates(geometry, display.shape, shape)
    row = np.floor(display_y).astype(np.int32)
    column = np.floor(display_x).astype(np.int32)
    inside = (row >= 0) & (row < display.shape[0]) & (column >= 0) & (column < display.shape[1])
    values = np.ones(shape, dtype=np.float32)
    values[inside] = display[row[inside], column[inside]]
    return (ink + (1.0 - ink) * values).astype(np.float32)
