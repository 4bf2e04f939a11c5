"""Images the network never saw in training, for a second sanity check.

Training and the first sanity set use scikit-image's bundled photographs (`hdc.synthetic.NATURAL_TRAIN`,
`NATURAL_TEST`). These come from elsewhere:

- photographs from matplotlib's bundled sample data ("photo_*"): a portrait, a packshot, two terrain
  elevation maps and an MRI slice;
- technical targets drawn here ("target_*"): a QR code (made by the `segno` library), a Siemens star, bar
  groups of decreasing width, and a fine checkerboard.

`unseen_image(name)` gives each as gray float32 in [0, 1]; `hdc.synthetic` passes them through the camera model
like any natural image (``python -m hdc.synthetic OUT --layout test --unseen``).

`TUNING` are images for tuning the data consistency, in neither the training set nor either sanity set, so
that the tuning does not see photographs the network learnt: scikit-image's motorcycle (a photograph) and street
sign, its Shepp-Logan phantom, and two dead-leaves pictures (occluding discs of power-law sizes, the model of
natural images' statistics that camera sharpness charts use) drawn here (``--tuning``).
"""

import numpy as np

PHOTOGRAPHS = ("photo_hopper", "photo_present", "photo_terrain", "photo_bathymetry", "photo_mri")
TARGETS = ("target_qr", "target_star", "target_bars", "target_checkers")
UNSEEN = PHOTOGRAPHS + TARGETS
TUNING = ("tune_motorcycle", "tune_sign", "tune_phantom", "tune_leaves", "tune_leaves_fine")


def sample_data(name):
    """A file of matplotlib's bundled sample data, opened as numpy/PIL can read it."""
    import matplotlib.cbook

    return matplotlib.cbook.get_sample_data(name, asfileobj=False)


def shaded(elevation):
    """An elevation map (h, w) as a hill-shaded picture in [0, 1] (light from the north-west)."""
    from matplotlib.colors import LightSource

    return LightSource(azdeg=315, altdeg=45).hillshade(np.asarray(elevation, np.float64), vert_exag=0.05)


def photograph(name):
    from PIL import Image

    if name == "photo_hopper":
        with Image.open(sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("L"), np.float32) / 255.0
    if name == "photo_present":
        with Image.open(sample_data("Minduka_Present_Blue_Pack.png")) as image:
            return np.asarray(image.convert("L"), np.float32) / 255.0
    if name == "photo_terrain":
        return shaded(np.load(sample_data("jacksboro_fault_dem.npz"))["elevation"])
    if name == "photo_bathymetry":
        return shaded(np.load(sample_data("topobathy.npz"))["topo"])
    import gzip

    with gzip.open(sample_data("s1045.ima.gz")) as stream:
        slice_ = np.frombuffer(stream.read(), np.uint16).reshape(256, 256).astype(np.float32)
    return slice_ / max(float(slice_.max()), 1.0)


def qr_code(size=600):
    """A QR code of a fixed message, black modules on white, `size` pixels square."""
    import segno

    matrix = np.array(segno.make("HDC2021 sanity check: a deconvolution, not a drawing", error="m").matrix,
                      dtype=bool)
    matrix = np.pad(matrix, 4)  # the quiet zone
    repeat = max(1, size // matrix.shape[0])
    return np.where(np.kron(matrix, np.ones((repeat, repeat), bool)), 0.05, 0.95).astype(np.float32)


def siemens_star(size=800, spokes=36):
    """A Siemens star of `spokes` black and white sectors on grey."""
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    star = np.where(np.sin(spokes / 2 * np.arctan2(y, x)) > 0, 0.05, 0.95)
    return np.where(np.hypot(x, y) <= 0.95, star, 0.5).astype(np.float32)


def bar_groups(shape=(600, 960)):
    """Groups of three dark bars on white, each group half as wide as the previous one (16 to 1 pixels)."""
    image = np.full(shape, 0.95, np.float32)
    left = 40
    for width in (16, 8, 4, 2, 1):
        for bar in range(3):
            start = left + 2 * bar * width
            image[100:500, start:start + width] = 0.05
        left += 6 * width + 60
    return image


def checkers(shape=(600, 960), square=6):
    """A checkerboard of `square`-pixel squares, finer than scikit-image's."""
    y, x = np.mgrid[:shape[0], :shape[1]]
    return np.where((y // square + x // square) % 2, 0.05, 0.95).astype(np.float32)


def dead_leaves(shape=(600, 960), smallest=2.0, largest=150.0, discs=6000, seed=0):
    """A dead-leaves picture (h, w) float32 in [0.05, 0.95]: `discs` discs of uniform random grey, radii drawn
    with density ∝ r^-3 between `smallest` and `largest` pixels, each painted over the ones before."""
    rng = np.random.default_rng(seed)
    image = np.full(shape, 0.5, np.float32)
    # inverse transform sampling of p(r) ∝ r^-3 on [smallest, largest]
    uniform = rng.random(discs)
    radii = 1.0 / np.sqrt(smallest ** -2 - uniform * (smallest ** -2 - largest ** -2))
    for radius, row, column, grey in zip(radii, rng.uniform(0, shape[0], discs), rng.uniform(0, shape[1], discs),
                                         rng.uniform(0.05, 0.95, discs)):
        top, bottom = max(0, int(row - radius)), min(shape[0], int(row + radius) + 1)
        left, right = max(0, int(column - radius)), min(shape[1], int(column + radius) + 1)
        y, x = np.ogrid[top:bottom, left:right]
        inside = (y - row) ** 2 + (x - column) ** 2 <= radius ** 2
        image[top:bottom, left:right][inside] = grey
    return image


def tuning_image(name):
    """The image `name` of `TUNING` as gray float32 in [0, 1]."""
    from skimage import data

    from hdc.io import to_gray_float

    if name == "tune_motorcycle":
        return to_gray_float(data.stereo_motorcycle()[0])
    if name == "tune_sign":
        return to_gray_float(data.text())
    if name == "tune_phantom":
        return to_gray_float(data.shepp_logan_phantom())
    if name == "tune_leaves":
        return dead_leaves(seed=1)
    return dead_leaves(smallest=1.0, largest=40.0, discs=30000, seed=2)


def unseen_image(name):
    """The image `name` of `UNSEEN` or `TUNING` as gray float32 in [0, 1]; ValueError for another name."""
    if name in PHOTOGRAPHS:
        return np.clip(photograph(name), 0.0, 1.0).astype(np.float32)
    if name in TUNING:
        return np.clip(tuning_image(name), 0.0, 1.0).astype(np.float32)
    makers = {"target_qr": qr_code, "target_star": siemens_star, "target_bars": bar_groups, "target_checkers": checkers}
    if name not in makers:
        raise ValueError(f"unknown unseen image {name!r} (known: {', '.join(UNSEEN + TUNING)})")
    return makers[name]()
