"""Preprocessing shared by inference and training (the seed article's recipe).

The blurred input goes through: optionally, removal of a sensor's row and column offsets (`destripe`, not in
the article), downscale to the working scale, division by a
robustly fitted background (vignetting) surface, and a stack of the result
with its median-filtered versions and, optionally, its Wiener deconvolution
with the step's disc (an improvement over the article: the
network starts from a classical deblurring instead of having to learn one).
The sharp target goes through: downscale,
a brightness rescale that puts 75 % of the pixels at full white, and a mask
that keeps grey only near black pixels.
"""

import functools

import numpy as np
from PIL import Image
from scipy import fft, ndimage

from hdc.physics import CAMERA_SHAPE, NOMINAL_RADIUS, RADIUS_RANGE, defocus_psf, scaled_psf

DEFAULT_MEDIAN_WIDTHS = (3, 5, 7, 9)
RADIUS_SOURCES = ("nominal", "estimated")
# radius_source "estimated" (`Preprocessor.blur_radii`). On 42 synthetic text captures of steps 12-19, an
# estimate within the step's range widened by 10 % was within 9 % of the drawn radius (most within 3 %); the
# gross failures (0.2-2.5x) fell outside. The blur model then spans +-6 % around the estimate, and the Wiener
# channel correlated with the sharp image 0.23 instead of 0.13 at step 19, 0.12 instead of 0.07 at 18.
ESTIMATE_MARGIN = 1.1
ESTIMATE_SPREAD = 0.06
# Where the free estimate falls outside the step's range, the radius is searched within the range
# (`hdc.estimate.radius_within`) for steps whose range starts at this radius (full-size px) or above: there a
# disc's zero rings show in the spectrum. Below it lens softness hides them (docs/estimation: steps 0-2 are the
# estimator's weakest), and a search finds no ring but an edge of the range: on the tuning sets (seeds 1001 and
# 1002) the 4 such captures of step 4 scored 95.0 with the range and 41.8 with the search; the 14 of steps 17-19
# 12.9 and 31.1, the one of step 5 90 and 100 (none at steps 6-16).
RING_VISIBLE_RADIUS = 25.0
# The aperture's shape is fitted (`Preprocessor.blur_kernel`) for steps whose range of radii lies within
# [RING_VISIBLE_RADIUS, LARGEST_FITTED_RADIUS] (full-size px): steps 5-17. Beyond, the rings of a 180-210 px kernel
# lie 3.5-5 frequency bins apart and the glare leaves them faint (the disc estimator's misses there, `hdc.estimate`).
# On the tuning sets (seeds 1001 and 1002, 8 and 16 captures per step) the fit scored at steps 16 and 17 +9.8 and
# 0.0, +11.1 and +5.4 points over the discs; at steps 18 and 19 -23.9 and -8.3, -6.0 and -7.7.
LARGEST_FITTED_RADIUS = 170.0
# Row and column offsets (a sensor's fixed pattern; `hdc.physics.shift_camera`'s banding) are measured in the plain
# paper of a text capture's margins (`stripe_offsets`): the left and right STRIPE_MARGIN of the width for the rows,
# the top and bottom one of the height for the columns, less the background's slow change (a Gaussian of
# STRIPE_SMOOTHING of the frame's height: 40 pixels at full size). They are removed only where they stand out of
# the pixel noise by STRIPE_SIGNIFICANCE: the ratio measured 9.0-17.3 on 120 banded captures (seed 1007), at most
# 4.4 on 120 clean ones of the same draws and on 80 test-set text captures, 1.3-3.3 on the five real full-size
# captures; photographs reach 12.8, and their margins are content, so only paper captures are destriped.
STRIPE_MARGIN = 0.12
STRIPE_SMOOTHING = 40 / CAMERA_SHAPE[0]
STRIPE_SIGNIFICANCE = 6.0


def working_shape(shape, scale):
    """Shape (rows, columns) of an image of `shape` downscaled by `scale` (e.g. 7 for 1:7)."""
    rows, columns = shape
    return max(1, round(rows / scale)), max(1, round(columns / scale))


def resize(image, shape, method="box"):
    """Resize a float image to `shape` (rows, columns) with Pillow.

    Parameters
    ----------
    image : (H, W) float32.
    shape : (rows, columns) of the result.
    method : "box" (area average, for downscaling) or "bicubic" (for upscaling).

    Returns
    -------
    (rows, columns) float32. The whole extent of the input maps onto the whole
    extent of the output, so downscaling and upscaling back align exactly.
    """
    filters = {"box": Image.Resampling.BOX, "bicubic": Image.Resampling.BICUBIC,
               "bilinear": Image.Resampling.BILINEAR}
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    return np.asarray(picture.resize((shape[1], shape[0]), filters[method]), dtype=np.float32)


def normalize_contrast(image, percentile=99.5):
    """`image` (H, W) float divided by its `percentile`-th percentile (which becomes white), clipped to [0, 1]."""
    return np.clip(image / max(float(np.percentile(image, percentile)), 1e-3), 0.0, 1.0).astype(np.float32)


def downscale(image, scale):
    """Area-average `image` (H, W) float32 by `scale`; returns the working-scale image."""
    return resize(image, working_shape(image.shape, scale), "box")


def border_mask(shape, inner=(0.76, 0.80)):
    """Pixels outside a centred rectangle, which hold no text in HDC2021 captures.

    Parameters
    ----------
    shape : (rows, columns).
    inner : height and width of the excluded central rectangle, as fractions
        of the image's height and width. The text block of the real captures
        covers about 55 % x 66 % of the frame; the default leaves room for the
        blur of the largest steps. The border is about 39 % of the image.

    Returns
    -------
    (rows, columns) bool, True on the border.
    """
    rows, columns = shape
    row = np.abs(np.linspace(-1.0, 1.0, rows)) > inner[0]
    column = np.abs(np.linspace(-1.0, 1.0, columns)) > inner[1]
    return row[:, None] | column[None, :]


def background_features(shape):
    """Design matrix of the background surface: 1, x, x², y, y², d.

    x and y run over [-1, 1] across the image; d is the distance from the
    centre. Returns (rows * columns, 6) float64.
    """
    rows, columns = shape
    y, x = np.meshgrid(np.linspace(-1.0, 1.0, rows), np.linspace(-1.0, 1.0, columns), indexing="ij")
    x, y = x.ravel(), y.ravel()
    return np.stack([np.ones_like(x), x, x * x, y, y * y, np.hypot(x, y)], axis=1)


class BackgroundFit:
    """Robust least-squares fit of the background surface for one image shape.

    Everything that does not depend on the pixel values (the border sample and
    the design matrix) is computed once here and reused for every image.

    Parameters
    ----------
    shape : (rows, columns) of the images to fit.
    samples : number of border pixels sampled (the article uses 400-450).
    discard : fraction of worst-fitting samples dropped before the refit.
    seed : seed of the border sample, so the fit is deterministic.
    """

    def __init__(self, shape, samples=450, discard=0.1, seed=0):
        self.shape = tuple(shape)
        self.discard = discard
        border = np.flatnonzero(border_mask(self.shape))
        rng = np.random.default_rng(seed)
        self.indices = np.sort(rng.choice(border, size=min(samples, border.size), replace=False))
        self.features = background_features(self.shape)
        self.sample_features = self.features[self.indices]

    def coefficients(self, image):
        """Fitted coefficients (6,) for `image` (rows, columns) float."""
        values = np.asarray(image, dtype=np.float64).ravel()[self.indices]
        coefficients = np.linalg.lstsq(self.sample_features, values, rcond=None)[0]
        residuals = np.abs(self.sample_features @ coefficients - values)
        keep = residuals <= np.quantile(residuals, 1.0 - self.discard)
        return np.linalg.lstsq(self.sample_features[keep], values[keep], rcond=None)[0]

    def __call__(self, image):
        """Background surface (rows, columns) float32 fitted to `image`."""
        surface = self.features @ self.coefficients(image)
        return surface.reshape(self.shape).astype(np.float32)

    def border_residual(self, image, surface):
        """Median relative deviation of `image` from `surface` on the sampled border pixels (float)."""
        values = np.asarray(image, np.float64).ravel()[self.indices]
        expected = np.asarray(surface, np.float64).ravel()[self.indices]
        return float(np.median(np.abs(values - expected) / np.maximum(np.abs(expected), 1e-6)))


def paper_surface(image, fit, tolerance=0.02, headroom=1.3):
    """The border surface fitted by `fit` (a `BackgroundFit`), (rows, columns) float32, if the border of
    `image` is a background, as the paper of a text capture is; else None.

    A background: the surface is positive, fits the border closely (median relative residual at most
    `tolerance`; text captures give below 0.01) and hardly anything is brighter (the 99.5th percentile of
    image / surface at most `headroom`; text captures give below 1.25). A natural image's border is content.
    """
    surface = fit(image)
    if (surface.min() > 1e-3 and fit.border_residual(image, surface) <= tolerance
            and np.quantile(image / surface, 0.995) <= headroom):
        return surface
    return None


def background(image, fit):
    """The level (rows, columns) float32 that `image` is divided by to bring its background to 1, and
    whether the border was paper.

    The fitted border surface where the border is paper (`paper_surface`); otherwise, for a natural image,
    a constant at twice the image's mean: a global gain, which keeps the picture as it is instead of dividing
    it by a surface extrapolated from its border. The mean, unlike a bright percentile, is the same before and
    after the blur, so a blurred natural image and its sharp version are scaled alike.
    """
    surface = paper_surface(image, fit)
    if surface is not None:
        return surface, True
    return background_level(image, fit, paper=False), False


def background_level(image, fit, paper):
    """The level (rows, columns) float32 of `background` for a decision already made: the border surface
    fitted by `fit` when `paper`, else a constant at twice the image's mean."""
    if paper:
        return np.maximum(fit(image), 1e-3).astype(np.float32)
    return np.full(fit.shape, max(2.0 * float(np.mean(image)), 1e-3), np.float32)


def flatten_background(image, fit):
    """Remove vignetting: `image / background - 1`, so the background is ~0 and ink is negative.

    Division (rather than plain subtraction) also removes the camera's overall
    gain, so captures of different exposure give the same input.

    Returns
    -------
    (rows, columns) float32, clipped to [-1.5, 0.5], and whether the border was paper (see `background`).
    """
    level, paper = background(image, fit)
    return np.clip(image / level - 1.0, -1.5, 0.5).astype(np.float32), paper


def stripe_offsets(image, margin=STRIPE_MARGIN, smoothing=STRIPE_SMOOTHING):
    """The offset of each row of `image` (H, W) float32 and how far those offsets stand out of the noise.

    A row's offset is the median of its left and right `margin` (fractions of W), less the Gaussian smoothing
    (`smoothing` times H pixels) of that profile over the rows. The strength is the offsets' robust spread over
    the spread that pixel noise alone gives such a median, the noise measured from the differences of
    neighbouring columns, which row offsets do not change.

    Returns (H,) float32 offsets and the strength (float, about 1 without row offsets).
    """
    width = max(1, int(round(margin * image.shape[1])))
    edges = np.concatenate([image[:, :width], image[:, -width:]], axis=1)
    profile = np.median(edges, axis=1)
    offsets = profile - ndimage.gaussian_filter1d(profile, smoothing * image.shape[0], mode="nearest")
    noise = 1.4826 * np.median(np.abs(np.diff(edges, axis=1))) / np.sqrt(2)
    expected = max(1.2533 * noise / np.sqrt(edges.shape[1]), 1e-5)
    spread = 1.4826 * np.median(np.abs(offsets - np.median(offsets)))
    return offsets.astype(np.float32), float(spread / expected)


def destripe(image, significance=STRIPE_SIGNIFICANCE):
    """`image` (H, W) float32 without its row offsets, then its column offsets (`stripe_offsets`), each only if
    they stand out of the noise by more than `significance`; `image` itself when neither does. For captures
    whose margins are plain paper (see `Preprocessor.clean`)."""
    offsets, strength = stripe_offsets(image)
    if strength > significance:
        image = image - offsets[:, None]
    offsets, strength = stripe_offsets(image.T)
    if strength > significance:
        image = image - offsets[None, :]
    return image


def median_stack(image, widths=DEFAULT_MEDIAN_WIDTHS):
    """Stack `image` (H, W) with its median-filtered versions (`median_filter`, mirrored borders):
    (H, W, 1 + len(widths)) float32."""
    image = np.asarray(image, dtype=np.float32)
    return np.stack([image] + [median_filter(image, width) for width in widths], axis=-1)


def median_filter(image, width, budget=2 ** 22):
    """The median over each `width` x `width` window of `image` (H, W) float32, borders mirrored: equal to
    `scipy.ndimage.median_filter(image, size=width, mode="reflect")`, about 3x faster (a partial sort of the
    windows, 22 ms against 62 ms for width 9 on a 209 x 337 frame). Rows are taken in blocks of at most
    `budget` window values, so memory stays bounded on large frames."""
    if width < 1 or width % 2 == 0:
        raise ValueError(f"median width must be odd and positive, got {width}")
    image = np.asarray(image, dtype=np.float32)
    half, middle = width // 2, width * width // 2
    padded = np.pad(image, half, mode="symmetric")
    output = np.empty_like(image)
    block = max(1, budget // max(1, image.shape[1] * width * width))
    for top in range(0, image.shape[0], block):
        rows = padded[top:top + min(block, image.shape[0] - top) + 2 * half]
        windows = np.lib.stride_tricks.sliding_window_view(rows, (width, width))
        windows = windows.reshape(windows.shape[0], windows.shape[1], width * width)
        output[top:top + windows.shape[0]] = np.partition(windows, middle, axis=-1)[..., middle]
    return output


def wiener_deconvolve(image, radius, balance):
    """Wiener deconvolution of `image` (H, W) by a round disc of `radius` pixels; (H, W) float32, not clipped
    (ringing beyond the input's range is kept): `spread_wiener_deconvolve` for that one radius, which is
    scikit-image's `restoration.wiener` with its Laplacian regularization weighted by `balance` (equal to it
    on our inputs: tested), with mirrored borders."""
    return spread_wiener_deconvolve(image, (radius,), balance)


@functools.lru_cache(maxsize=4)
def cosine_transfers(radii, shape):
    """(E[K], E[K²]) over round discs of `radii` pixels (a tuple), each (h, w) = `shape` float64: the factors
    by which their convolution with mirrored borders multiplies an image's DCT-II. They are the discs'
    transfer functions (real: the PSFs are centred and symmetric) at the frequencies (j / 2h, l / 2w), the
    Fourier grid of the image and its mirror images side by side, whose periodic repetition is continuous.
    Computed as cosine sums over each PSF's rows and columns, folded onto its non-negative offsets (9 radii near
    47 px on a 730 x 1180 frame: 0.05 s).
    Remembered for the last 4 (radii, shape): a run at one step needs two, the Wiener channel's and the data
    consistency's; with per-image radii (radius_source "estimated") every image has its own, and 40 entries of
    the consistency's size (13.8 MB each at 730 x 1180) could hold 550 MB for nothing."""
    rows, columns = shape
    folds = [folded_psf(defocus_psf(radius)) for radius in radii]
    offsets = np.arange(max(fold.shape[0] for fold in folds))
    down = np.cos(np.pi * np.outer(np.arange(rows), offsets) / rows)
    across = np.cos(np.pi * np.outer(np.arange(columns), offsets) / columns)
    mean, power = np.zeros(shape), np.zeros(shape)
    for fold in folds:
        size = fold.shape[0]
        transfer = down[:, :size] @ (fold @ across[:, :size].T)
        mean += transfer
        power += np.square(transfer, out=transfer)
    return mean / len(radii), power / len(radii)


def folded_psf(psf):
    """A centred PSF (2h + 1, 2h + 1) folded onto its non-negative offsets: (h + 1, h + 1) float64, where entry
    (a, b) sums the PSF at offsets (+-a, +-b). A cosine sum is even in the offset, so it is the same over the
    folded PSF, with a quarter of the products."""
    psf = np.asarray(psf, np.float64)
    centre = psf.shape[0] // 2
    rows = psf[centre:].copy()
    rows[1:] += psf[:centre][::-1]
    folded = rows[:, centre:].copy()
    folded[:, 1:] += rows[:, :centre][:, ::-1]
    return folded


def spread_wiener_deconvolve(image, radii, balance):
    """Wiener deconvolution of `image` (H, W) for a disc whose radius is one of `radii` (pixels), unknown:
    E[K] Y / (E[K²] + balance Δ²) per frequency of the cosine transform (`cosine_transfers`), with Δ the
    discrete Laplacian. It is the least-squares linear filter over the radii; unlike one disc's filter it has
    no near-zero denominator at a disc's zero rings, which a wrong radius turns into a grid of ringing.
    The borders are mirrored, so nothing wraps around: padding each side by the PSF's size and using the FFT
    left a jump where the padded frame wrapped, and from a photograph that fills the frame the near-inverse
    filter rang from it as a grid parallel to the sides (docs/results/examples-natural.png at steps 10 and 15,
    before this). (H, W) float32, not clipped."""
    rows, columns = np.shape(image)
    mean, power = cosine_transfers(tuple(float(radius) for radius in radii), (rows, columns))
    laplacian = (4 - 2 * np.cos(np.pi * np.arange(rows) / rows)[:, None]
                 - 2 * np.cos(np.pi * np.arange(columns) / columns)[None, :])
    spectrum = fft.dctn(np.asarray(image, np.float64), norm="ortho")
    return fft.idctn(mean * spectrum / (power + balance * laplacian ** 2), norm="ortho").astype(np.float32)


def kernel_wiener_deconvolve(image, psf, balance):
    """Wiener deconvolution of `image` (H, W) by any centred kernel `psf` (n, n), with the Laplacian
    regularization of `spread_wiener_deconvolve` weighted by `balance` and mirrored borders (the FFT of the image
    and its mirror images side by side, the periodic repetition the cosine transform assumes, which a kernel that
    is not symmetric needs in full): conj(K) Y / (|K|² + balance Δ²). (H, W) float32, not clipped."""
    rows, columns = np.shape(image)
    image = np.asarray(image, np.float64)
    mirrored = np.block([[image, image[:, ::-1]], [image[::-1], image[::-1, ::-1]]])
    size, half = psf.shape[0], psf.shape[0] // 2
    kernel = np.zeros(mirrored.shape)
    kernel[:min(size, 2 * rows), :min(size, 2 * columns)] = psf[:2 * rows, :2 * columns]
    transfer = fft.rfft2(np.roll(kernel, (-half, -half), axis=(0, 1)))
    laplacian = (4 - 2 * np.cos(np.pi * np.arange(2 * rows) / rows)[:, None]
                 - 2 * np.cos(np.pi * np.arange(columns + 1) / columns)[None, :])
    restored = fft.irfft2(np.conj(transfer) * fft.rfft2(mirrored) / (np.abs(transfer) ** 2 + balance * laplacian ** 2),
                          mirrored.shape)
    return restored[:rows, :columns].astype(np.float32)


def oriented_wiener_deconvolve(image, psf, balance, quantile=0.01):
    """`kernel_wiener_deconvolve` of `image` (H, W), a flattened capture (paper ~0, ink below), by `psf` or by its
    point reflection, whichever makes the ink darker (the lower `quantile`): a power spectrum cannot tell them
    apart (`hdc.aperture`). On the triangles and cat's eyes of the aperture set (seed 1007) the right one in 80 %
    of the captures, the best of nine sharpness measures tried there (the gradients' l1/l2 ratio 70 %)."""
    restored = kernel_wiener_deconvolve(image, psf, balance)
    if np.array_equal(psf, psf[::-1, ::-1]):
        return restored
    reflected = kernel_wiener_deconvolve(image, psf[::-1, ::-1], balance)
    return reflected if np.quantile(reflected, quantile) < np.quantile(restored, quantile) else restored


class Preprocessor:
    """Turns a blurred full-size image into the network's working-scale input.

    Parameters
    ----------
    scale : downscale factor (7 means 1:7).
    median_widths : widths of the median filters stacked as extra channels.
    wiener_balance : if not None, a last channel holds the Wiener deconvolution of the
        flattened image by the step's disc (`radii`, brought to the working scale)
        with this regularization weight, clipped to [-1.5, 1].
    radii : disc radius per step 0..19 in full-size pixels, for the Wiener channel and the
        data consistency (`hdc.postprocessing`); default `hdc.physics.NOMINAL_RADIUS`.
    radius_source : "nominal" (the step's entry of `radii` or range of `wiener_ranges`) or "estimated" (each
        image's own radius where it is plausible, see `blur_radii`).
    wiener_ranges : None for a blur model of one disc (see `blur_radii`), or (low, high) per step
        0..19 in full-size pixels: the Wiener channel is then `spread_wiener_deconvolve` over 9 radii evenly
        spaced in the step's range (our training draws, `hdc.physics.RADIUS_RANGE`), and the data consistency
        uses the same radii (`blur_radii`).
    destripe : whether `clean` removes row and column offsets from paper captures (`destripe`).
    aperture : whether the blur model may be a kernel other than a disc, fitted to the capture's spectrum
        (`blur_kernel`).
    background_samples, background_discard, seed : see `BackgroundFit`.
    """

    def __init__(self, scale=7, median_widths=DEFAULT_MEDIAN_WIDTHS, wiener_balance=None, radii=NOMINAL_RADIUS,
                 radius_source="nominal", wiener_ranges=None, destripe=False, aperture=False,
                 background_samples=450, background_discard=0.1, seed=0):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        if len(radii) != len(NOMINAL_RADIUS) or not all(float(radius) > 0 for radius in radii):
            raise ValueError(f"radii must be {len(NOMINAL_RADIUS)} positive radii (steps 0..19), got {radii!r}")
        if radius_source not in RADIUS_SOURCES:
            raise ValueError(f"radius_source must be one of {', '.join(RADIUS_SOURCES)}, got {radius_source!r}")
        self.scale = scale
        self.median_widths = tuple(median_widths)
        self.wiener_balance = None if wiener_balance is None else float(wiener_balance)
        self.radii = tuple(float(radius) for radius in radii)
        self.radius_source = radius_source
        if wiener_ranges is not None and (len(wiener_ranges) != len(NOMINAL_RADIUS) or not all(
                len(pair) == 2 and 0 < float(pair[0]) <= float(pair[1]) for pair in wiener_ranges)):
            raise ValueError(f"wiener_ranges must be {len(NOMINAL_RADIUS)} (low, high) pairs with 0 < low <= high, "
                             f"got {wiener_ranges!r}")
        self.wiener_ranges = None if wiener_ranges is None else tuple((float(low), float(high))
                                                                       for low, high in wiener_ranges)
        self.destripe = bool(destripe)
        self.aperture = bool(aperture)
        self.background_samples = background_samples
        self.background_discard = background_discard
        self.seed = seed
        self.fits = {}

    @property
    def channels(self):
        return 1 + len(self.median_widths) + (self.wiener_balance is not None)

    def fit_for(self, shape):
        """The `BackgroundFit` for a working-scale shape, built once per shape."""
        shape = tuple(shape)
        if shape not in self.fits:
            self.fits[shape] = BackgroundFit(shape, self.background_samples, self.background_discard, self.seed)
        return self.fits[shape]

    def __call__(self, image, step, shape=None):
        """Network input (h, w, channels) float32 for `image` (H, W) float32 in [0, 1] blurred at `step`
        (0..19); see `inputs`."""
        return self.inputs(image, step, shape)[0]

    def flatten(self, image, shape=None):
        """`image` (H, W) float32 in [0, 1] reduced to the working-scale `shape` (default `working_shape(image.shape,
        scale)`) and flattened (`flatten_background`): (h, w) float32 in [-1.5, 0.5], and whether its border was
        paper."""
        small = resize(image, shape or working_shape(image.shape, self.scale), "box")
        return flatten_background(small, self.fit_for(small.shape))

    def paper_border(self, image):
        """Whether the border of `image` (H, W) float32 in [0, 1] is paper, as `inputs` decides it (`flatten`):
        true for the text captures, mostly false for photographs."""
        return self.flatten(image)[1]

    def clean(self, image):
        """`image` (H, W) float32 in [0, 1] as inference sees it: with `destripe`, without the row and column
        offsets that stand out of its noise, if the border is then paper (`destripe`, `paper_border`: strong
        offsets can hide the paper); else itself. Training data has no such offsets and is not cleaned."""
        if not self.destripe:
            return image
        cleaned = destripe(image)
        return cleaned if cleaned is not image and self.paper_border(cleaned) else image

    def estimated_radius(self, image, step, spectra=None):
        """The disc radius in full-size pixels of `image` (H, W) float32 in [0, 1] blurred at `step`, found in
        its own spectrum (`hdc.estimate.estimate_radius`, scaled from the image's pixels to full-size ones;
        `spectra`: the image's `hdc.estimate.Spectra`, when already made)
        where it lies within the step's range (`wiener_ranges`, else our draws `hdc.physics.RADIUS_RANGE`)
        widened by `ESTIMATE_MARGIN`. Outside it the estimator failed (a sharp capture's lens softness hides the
        disc; a faint capture at the far steps): for a range from `RING_VISIBLE_RADIUS` up, the best radius
        within the widened range (`hdc.estimate.radius_within`); below, None."""
        from hdc.estimate import Spectra, estimate_radius, radius_within

        scale, spectra = self.full_scale(image.shape), Spectra(image) if spectra is None else spectra
        found = estimate_radius(image, spectra=spectra)[0] * scale
        step_low, step_high = self.wiener_ranges[step] if self.wiener_ranges is not None else RADIUS_RANGE[step]
        low, high = step_low / ESTIMATE_MARGIN, step_high * ESTIMATE_MARGIN
        if low <= found <= high:
            return found
        within = (radius_within(image, low / scale, high / scale, spectra=spectra)
                  if step_low >= RING_VISIBLE_RADIUS else None)
        return None if within is None else within[0] * scale

    def blur_radii(self, image, step, spectra=None):
        """The disc radii (tuple, full-size pixels) of the blur model for `image` at `step`, shared by the
        Wiener channel and the data consistency (`spectra`: as for `estimated_radius`).

        With radius_source "estimated" and an `estimated_radius`: 9 evenly spaced within `ESTIMATE_SPREAD` of
        it (with `wiener_ranges`), or it alone. Otherwise 9 evenly spaced over the step's `wiener_ranges`, or
        the step's entry of `radii`."""
        found = self.estimated_radius(image, step, spectra) if self.radius_source == "estimated" else None
        if found is not None:
            if self.wiener_ranges is None:
                return (found,)
            return tuple(np.linspace(found * (1 - ESTIMATE_SPREAD), found * (1 + ESTIMATE_SPREAD), 9))
        if self.wiener_ranges is not None:
            return tuple(np.linspace(*self.wiener_ranges[step], 9))
        return (self.radii[step],)

    def blur_kernel(self, image, step, spectra=None, paper=None):
        """With `aperture` and a Wiener channel, the kernel (n, n) float64, in pixels of `image`, of the capture's
        aperture where it is clearly not round (`hdc.aperture.fit_aperture` over the radii of the step's range,
        `wiener_ranges` or our draws, widened by 30 %; `Aperture.clearly_not_round`) and `image` (H, W) float32 in
        [0, 1] is a paper capture of a step whose range lies within [`RING_VISIBLE_RADIUS`,
        `LARGEST_FITTED_RADIUS`]; else None: the blur model is then discs (`blur_radii`). `spectra`: as for
        `estimated_radius`; `paper`: whether the border is paper, when already decided (`paper_border`)."""
        from hdc.aperture import fit_aperture

        if not self.aperture or self.wiener_balance is None:
            return None
        low, high = self.wiener_ranges[step] if self.wiener_ranges is not None else RADIUS_RANGE[step]
        if low < RING_VISIBLE_RADIUS or high > LARGEST_FITTED_RADIUS:
            return None
        if not (self.paper_border(image) if paper is None else paper):
            return None
        scale = self.full_scale(image.shape)
        fitted = fit_aperture(image, np.geomspace(low / 1.3, high * 1.3, 30) / scale, spectra=spectra)
        return fitted.kernel() if fitted.clearly_not_round() else None

    def inputs(self, image, step, shape=None, radii=None, kernel=None, flattened=None):
        """Network input for `image` (H, W) float32 in [0, 1] blurred at `step` (0..19).

        shape : working-scale (h, w) to produce; default `working_shape(image.shape, scale)`.
            The image's own scale is image.shape / shape, so a reduced-resolution image
            (the synthetic generator's) gets the same input as a full-size one.
        radii : the blur model's disc radii in full-size pixels; default `blur_radii(image, step)`.
        kernel : a kernel (n, n) in pixels of `image` (`blur_kernel`) that the Wiener channel deconvolves
            (`oriented_wiener_deconvolve`) instead of the discs of `radii`.
        flattened : `flatten(image, shape)`, when already made.

        Returns
        -------
        (h, w, channels) float32, and whether the image's border was paper (`flatten_background`).
        """
        shape = shape or working_shape(image.shape, self.scale)
        flat, paper = self.flatten(image, shape) if flattened is None else flattened
        stack = median_stack(flat, self.median_widths)
        if self.wiener_balance is None:
            return stack, paper
        if kernel is not None:
            small_kernel = scaled_psf(kernel, shape[0] / image.shape[0])
            channel = np.clip(oriented_wiener_deconvolve(flat, small_kernel, self.wiener_balance), -1.5, 1.0)
        else:
            channel = self.wiener_channel(flat, self.blur_radii(image, step) if radii is None else radii)
        return np.concatenate([stack, channel[..., None]], axis=-1), paper

    def wiener_channel(self, flat, radii):
        """The Wiener channel (h, w) float32 in [-1.5, 1] of a flattened working-scale image (h, w): its
        deconvolution by a disc of one of `radii` (full-size pixels, brought to this scale;
        `spread_wiener_deconvolve`)."""
        scaled = np.divide(radii, self.full_scale(flat.shape))
        return np.clip(spread_wiener_deconvolve(flat, scaled, self.wiener_balance), -1.5, 1.0)

    def full_scale(self, shape):
        """Downscale factor from a full-size camera image (`hdc.physics.CAMERA_SHAPE`, where the
        radii are measured) to a working-scale `shape`."""
        return float(np.mean(np.divide(CAMERA_SHAPE, shape)))


def prepare_target(sharp, scale, white_fraction=0.75, dark_level=0.5, grey_radius=2, shape=None):
    """The near-binary training target from a sharp (CAM01) image.

    Parameters
    ----------
    sharp : (H, W) float32 in [0, 1], the in-focus capture.
    scale : working scale (as for the input).
    white_fraction : fraction of pixels brought to full white by the rescale.
    dark_level : after the rescale, pixels below this count as ink.
    grey_radius : grey pixels are kept only within this many working-scale
        pixels of ink; everything else becomes white (removes vignetting).
    shape : working-scale (h, w) to produce; default `working_shape(sharp.shape, scale)`.

    Returns
    -------
    (h, w) float32 in [0, 1]: ink near 0, paper exactly 1.
    """
    small = resize(sharp, shape or working_shape(sharp.shape, scale), "box")
    white = np.quantile(small, 1.0 - white_fraction)
    target = np.clip(small / max(float(white), 1e-3), 0.0, 1.0)
    ink = target < dark_level
    if ink.any():
        black = float(np.quantile(target[ink], 0.05))
        target = np.clip((target - black) / max(1.0 - black, 1e-3), 0.0, 1.0)
    near_ink = ndimage.binary_dilation(ink, structure=np.ones((3, 3), bool), iterations=grey_radius)
    target[~near_ink] = 1.0
    return target.astype(np.float32)


def prepare_natural_target(sharp, shape):
    """The training target from a sharp natural image (the sanity check's kind): (h, w) float32 in [0, 1].

    The sharp capture at working-scale `shape` divided by its `background`, as the blurred input is (for a
    natural image, twice its mean, which the blur does not change): the target lives in the space of the
    input, so the network's job on natural images is a deconvolution, not a guess of the brightness.
    Highlights above twice the mean are clipped.
    """
    small = resize(sharp, shape, "box")
    return np.clip(small / background(small, BackgroundFit(shape))[0], 0.0, 1.0)
