"""The forward model of the HDC2021 cameras, as pure functions.

A scene (reflectance in [0, 1], full camera resolution) becomes a capture by:
defocus blur with a polygonal-aperture PSF (FFT convolution), veiling glare
(a fraction of the light spread very widely, seen as an additive background
offset that grows with the blur), vignetting and exposure gain
(multiplicative), a bright spot on the optical axis, sensor noise (signal-dependent plus read noise) and 16-bit
quantization. Geometry (scale, shift, radial distortion) is applied when the
scene is sampled from the display (see `hdc.text`).

Random parameters are drawn by `draw_camera` from a `numpy.random.Generator`,
kept apart from the operators.
"""

import dataclasses

import numpy as np
from scipy import fft, ndimage, special

# Rows x columns of an HDC2021 capture (2360 x 1460 pixels, W x H), where the radii below are measured.
CAMERA_SHAPE = (1460, 2360)

# Disc radius per step in full-resolution pixels. Steps 0-14: the DTU team's
# estimates (`r0` in their main.m), which agree with the dataset paper (7, 39,
# 67, 99 at steps 1, 5, 9, 13), with the area-equivalent radius of the PSFs
# fitted to real pairs (2, 4, 11, 19, 26, 34, 42, 50, 61, 68, 77, 82 for steps
# 0-11, see docs/calibration.md) and with the zero rings of the real captures'
# spectra (hdc.estimate, docs/estimation: within 3 % at steps 4-14). Steps 15-19:
# the published estimates diverge (DTU 107-131, Bremen 97-155, another team
# 140-200); the zero rings of the real captures give 117, 135, 159, 189 and
# 203 px (thumbnails and full-size frames agree), close to the largest published
# values, and we take those.
NOMINAL_RADIUS = (1.0, 4.0, 12.0, 18.0, 25.0, 37.0, 43.0, 49.0, 61.0, 66.0,
                  74.0, 85.0, 90.0, 96.0, 101.0, 117.0, 135.0, 159.0, 189.0, 203.0)

# Published estimates of the disc radius per step (facts table, section 4:
# dataset paper, DTU_1, DTU_2, Bremen; steps 16-19 also the fourth team's
# values), the area-equivalent radius of the PSFs fitted to real pairs
# (steps 0-11) and the real captures' zero rings (steps 15-19). Bremen's values
# for steps 0-3 are left out: their 1:8 grid cannot express radii below 8 px.
RADIUS_ESTIMATES = (
    (1, 0, 2.2), (7, 4, 5.1, 4.3), (12, 10.0, 11.1), (18, 15.1, 18.5),
    (25, 30.0, 17.6, 26.0), (39, 37, 35.0, 30, 33.5), (43, 39.0, 36, 42.0), (49, 49.7, 42, 50.2),
    (61, 61.0, 54, 60.7), (67, 66, 66.4, 65.6, 68.1), (74, 74.0, 70.4, 76.9), (85, 86.0, 75.2, 82.0),
    (90, 90.9, 82.4), (99, 96, 97.4, 86.4), (101, 101.0, 92), (107, 107.4, 96.8, 117),
    (114, 114.0, 108, 140, 135), (120, 120.4, 128, 160, 159), (126, 126.3, 142.4, 185, 189),
    (130, 130.7, 155.2, 200, 203))

# Range drawn during training: the spread of the estimates, widened by 5 % on each side.
RADIUS_RANGE = tuple((max(0.5, 0.95 * min(values)), 1.05 * max(values)) for values in RADIUS_ESTIMATES)


def polygon_radius_function(theta, sides, rotation):
    """Boundary of a regular polygon of unit area-equivalent radius, in polar form.

    Parameters
    ----------
    theta : array of angles (radians).
    sides : number of sides (>= 3), or 0 for a disc.
    rotation : rotation of the polygon (radians).

    Returns
    -------
    array like `theta`: the boundary radius in units of the area-equivalent radius.
    """
    if sides == 0:
        return np.ones_like(theta)
    sector = 2.0 * np.pi / sides
    circumradius = np.sqrt(2.0 * np.pi / (sides * np.sin(sector)))
    inradius = circumradius * np.cos(sector / 2.0)
    local = np.mod(theta - rotation, sector) - sector / 2.0
    return inradius / np.cos(local)


def defocus_psf(radius, sides=0, rotation=0.0, edge=1.0, rim=0.0, aspect=1.0, softness=0.0):
    """Out-of-focus PSF: a polygonal disc with a soft edge, summing to one.

    Parameters
    ----------
    radius : area-equivalent radius in pixels (>= 0).
    sides : aperture blades (>= 3), or 0 for a round aperture.
    rotation : rotation of the polygon (radians).
    edge : width of the soft edge in pixels.
    rim : relative brightening of the rim (0 = flat disc; 0.3 = 30 % brighter
        at the edge than at the centre), as seen in real defocus kernels.
    aspect : horizontal/vertical stretch (1 = none), for off-axis elongation.
    softness : standard deviation (pixels) of a Gaussian blur added to the disc.

    Returns
    -------
    (n, n) float64 with n odd, summing to 1.
    """
    if radius < 0:
        raise ValueError(f"radius must be non-negative, got {radius}")
    half = int(np.ceil(radius * max(aspect, 1.0 / aspect) * 1.25 + edge + 3 * softness + 1))
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    x = x / np.sqrt(aspect)
    y = y * np.sqrt(aspect)
    rho = np.hypot(x, y)
    boundary = radius * polygon_radius_function(np.arctan2(y, x), sides, rotation)
    psf = np.clip((boundary - rho) / max(edge, 1e-6) + 0.5, 0.0, 1.0)
    if rim and radius > 0:
        psf *= 1.0 + rim * np.clip(rho / np.maximum(boundary, 1e-6), 0.0, 1.0) ** 2
    if psf.sum() == 0:
        psf[half, half] = 1.0
    if softness > 0:
        psf = ndimage.gaussian_filter(psf, softness, mode="constant")
    return psf / psf.sum()


def gaussian_psf(sigma):
    """Isotropic Gaussian PSF (n, n), n odd, summing to 1."""
    half = max(1, int(np.ceil(3.5 * sigma)))
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    psf = np.exp(-(x * x + y * y) / (2.0 * max(sigma, 1e-6) ** 2))
    return psf / psf.sum()


def convolve_fft(image, psf):
    """Convolve `image` (H, W) with `psf` (n, n) (n odd) by FFT, with reflected borders.

    Returns (H, W) float32, the same as `scipy.ndimage.convolve(image, psf, mode='reflect')`
    up to floating-point error.
    """
    half = psf.shape[0] // 2
    padded = np.pad(np.asarray(image, dtype=np.float32), half, mode="symmetric")
    shape = [fft.next_fast_len(padded.shape[0] + 2 * half, real=True),
             fft.next_fast_len(padded.shape[1] + 2 * half, real=True)]
    spectrum = fft.rfft2(padded, shape, workers=-1) * fft.rfft2(psf.astype(np.float32), shape, workers=-1)
    full = fft.irfft2(spectrum, shape, workers=-1)
    rows, columns = image.shape
    return full[2 * half:2 * half + rows, 2 * half:2 * half + columns].astype(np.float32)


def veiling_glare(image, fraction, sigma_fraction=0.25):
    """Spread `fraction` of the light over a very wide Gaussian (width `sigma_fraction` of the image width).

    Computed on an 8x reduced image for speed. Returns (H, W) float32.
    """
    if fraction <= 0:
        return np.asarray(image, dtype=np.float32)
    small = image[::8, ::8]
    wide = ndimage.gaussian_filter(small, sigma_fraction * small.shape[1], mode="reflect")
    wide = ndimage.zoom(wide, (image.shape[0] / wide.shape[0], image.shape[1] / wide.shape[1]), order=1)
    return ((1.0 - fraction) * image + fraction * wide[:image.shape[0], :image.shape[1]]).astype(np.float32)


def vignetting(shape, strength, centre=(0.0, 0.0), tilt=(0.0, 0.0)):
    """Multiplicative illumination falloff (H, W) float32, 1 at `centre`.

    strength : relative falloff at the corners (0.12 = 12 % darker).
    centre : (y, x) of the brightest point in [-1, 1] image coordinates.
    tilt : (y, x) linear gradient across the image (relative change from centre to edge).
    """
    rows, columns = shape
    y = np.linspace(-1.0, 1.0, rows, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, columns, dtype=np.float32)[None, :]
    radius2 = ((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / 2.0
    return ((1.0 - strength * radius2) * (1.0 + tilt[0] * y + tilt[1] * x)).astype(np.float32)


def hotspot(shape, amplitude, width, power, centre=(0.0, 0.0)):
    """A bright spot on the optical axis, ``amplitude * exp(-(d / width) ** power)``: (H, W) float32.

    d is the distance from `centre` in [-1, 1] image coordinates (x and y each
    scaled to the image's own width and height). The real per-step mean images
    show such a spot exactly at the frame centre, 7-23 % above the vignetting
    surface fitted to the border, falling to 61 %, 31 % and 13 % of its peak at
    d = 0.2, 0.4 and 0.6 (width 0.35, power 1.3; docs/calibration.md).
    """
    rows, columns = shape
    y = np.linspace(-1.0, 1.0, rows, dtype=np.float32)[:, None] - centre[0]
    x = np.linspace(-1.0, 1.0, columns, dtype=np.float32)[None, :] - centre[1]
    return (amplitude * np.exp(-(np.sqrt(x * x + y * y) / width) ** power)).astype(np.float32)


def add_noise(image, rng, read_sigma, shot_gain):
    """Sensor noise: Gaussian with variance read_sigma² + shot_gain * image. Returns float32."""
    sigma = np.sqrt(read_sigma ** 2 + shot_gain * np.clip(image, 0.0, None))
    return (image + sigma * rng.standard_normal(image.shape, dtype=np.float32)).astype(np.float32)


def quantize16(image):
    """Clip to [0, 1] and round to the 16-bit grid; returns float32."""
    return (np.rint(np.clip(image, 0.0, 1.0) * 65535.0) / 65535.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Camera:
    """Everything that turns a scene into one capture.

    psf : (n, n) blur kernel summing to 1.
    glare : fraction of the light spread as veiling glare.
    gain : brightness of white paper at the centre of the frame, in [0, 1].
    vignetting_strength, vignetting_centre, vignetting_tilt : see `vignetting`.
    read_sigma, shot_gain : see `add_noise`.
    hotspot_amplitude, hotspot_width, hotspot_power, hotspot_centre : see `hotspot`.
    hotspot_additive : the spot adds light (a reflection) rather than multiplying the illumination.
    radius : the area-equivalent radius of the defocus disc drawn for `psf`, in full-size pixels (None for the
        sharp camera).
    gamma : the response: a capture records the light to this power (1 = linear, as the real captures).
    field : the blur's growth from the frame's centre to its corners (0 = the same `psf` everywhere; 0.25 =
        the kernel 25 % wider in the corners), see `convolve_field`.
    contrast : the steepness of an S-shaped response after `gamma` (0 = none), see `s_curve`.
    banding : standard deviation of fixed offsets per row and per column added with the noise (0 = none).
    """

    psf: np.ndarray
    glare: float
    gain: float
    vignetting_strength: float
    vignetting_centre: tuple
    vignetting_tilt: tuple
    read_sigma: float
    shot_gain: float
    hotspot_amplitude: float = 0.0
    hotspot_width: float = 0.35
    hotspot_power: float = 1.3
    hotspot_centre: tuple = (0.0, 0.0)
    hotspot_additive: bool = True
    radius: float = None
    gamma: float = 1.0
    field: float = 0.0
    contrast: float = 0.0
    banding: float = 0.0


def capture(scene, camera, rng):
    """Image a scene through a `Camera`.

    Parameters
    ----------
    scene : (H, W) float32 reflectance in [0, 1] at camera resolution.
    camera : `Camera`.
    rng : numpy.random.Generator for the noise.

    Returns
    -------
    (H, W) float32 in [0, 1] on the 16-bit grid.
    """
    blurred = convolve_field(scene, camera.psf, camera.field) if camera.field else convolve_fft(scene, camera.psf)
    blurred = veiling_glare(blurred, camera.glare)
    illumination = camera.gain * vignetting(scene.shape, camera.vignetting_strength, camera.vignetting_centre,
                                            camera.vignetting_tilt)
    spot = hotspot(scene.shape, camera.hotspot_amplitude, camera.hotspot_width, camera.hotspot_power,
                   camera.hotspot_centre)
    if camera.hotspot_additive:
        lit = blurred * illumination + spot * camera.gain
    else:
        lit = blurred * illumination * (1.0 + spot)
    if camera.gamma != 1.0:
        lit = np.clip(lit, 0.0, None) ** camera.gamma
    if camera.contrast:
        lit = s_curve(lit, camera.contrast)
    noisy = add_noise(lit, rng, camera.read_sigma, camera.shot_gain)
    if camera.banding:
        rows, columns = noisy.shape
        noisy = noisy + camera.banding * (rng.standard_normal((rows, 1)) + rng.standard_normal((1, columns)))
    return quantize16(noisy)


def s_curve(image, steepness):
    """An S-shaped response about 0.5 that keeps 0 and 1: a logistic curve of `steepness`, rescaled."""
    low, high = special.expit(-steepness / 2), special.expit(steepness / 2)
    return ((special.expit(steepness * (np.asarray(image) - 0.5)) - low) / (high - low)).astype(np.float32)


def scaled_psf(psf, factor):
    """`psf` (n, n) widened by `factor` (bilinear), odd-sized and summing to 1."""
    size = max(1, int(round(psf.shape[0] * factor)) | 1)
    widened = np.clip(ndimage.zoom(psf, size / psf.shape[0], order=1), 0.0, None)
    if widened.sum() <= 0:
        return psf
    return widened / widened.sum()


def convolve_field(image, psf, growth, nodes=3):
    """A blur that grows across the field: `image` (H, W) convolved with `psf` widened by 1 + growth * t at `nodes`
    values of t from 0 to 1, blended by the pixel's distance from the centre (t = 0 there, 1 in the corners).

    Returns (H, W) float32.
    """
    rows, columns = image.shape
    y = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2)[:, None]
    x = (np.arange(columns, dtype=np.float32) - (columns - 1) / 2)[None, :]
    position = np.hypot(y, x) / np.hypot((rows - 1) / 2, (columns - 1) / 2) * (nodes - 1)
    blurred = np.zeros(image.shape, np.float32)
    for node in range(nodes):
        weight = np.clip(1.0 - np.abs(position - node), 0.0, 1.0)
        blurred += weight * convolve_fft(image, scaled_psf(psf, 1.0 + growth * node / (nodes - 1)))
    return blurred


# The first four are also drawn by `vary_camera` for the training camera model "varied" (over ranges that
# include the shifts'); the last three (`HELD_OUT_SHIFTS`) never are, so that they test what no training showed.
CAMERA_SHIFTS = ("aperture", "tone", "noise", "field", "annulus", "curve", "banding")
HELD_OUT_SHIFTS = CAMERA_SHIFTS[4:]
# The blurred cameras of training: as drawn by `draw_blurred_camera` (calibrated on the real captures), those
# drawn wider by `vary_camera`, or those with only their noise drawn stronger (`noisy_camera`).
CAMERA_MODELS = ("calibrated", "varied", "noisy")


def shift_camera(camera, kind, rng):
    """`camera` (a blurred camera of `draw_blurred_camera`) changed beyond what the calibrated cameras draw, in one
    way (a camera-shift test set: ``python -m hdc.synthetic --camera-shift KIND``; `vary_camera` draws the first four
    for training):

    aperture : a triangular or square aperture, or a cat's eye (the disc cut by another one, as off-axis
        vignetting does), of the drawn radius;
    tone : a display-encoded response, the light to the power 0.45-0.7 (training's is linear);
    noise : three times the drawn read and shot noise;
    field : the blur 20-30 % wider in the frame's corners than in its centre (training's is the same everywhere);
    annulus : a ring, the drawn radius outside and 35-55 % of it inside (a mirror lens's central obstruction);
    curve : an S-shaped response of steepness 4-8 (`s_curve`);
    banding : offsets per row and per column of 1-2 times the drawn read noise (a sensor's fixed pattern).
    """
    if kind == "annulus":
        return dataclasses.replace(camera, psf=ring_psf(camera.radius, rng.uniform(0.35, 0.55)))
    if kind == "curve":
        return dataclasses.replace(camera, contrast=rng.uniform(4.0, 8.0))
    if kind == "banding":
        return dataclasses.replace(camera, banding=rng.uniform(1.0, 2.0) * camera.read_sigma)
    if kind == "tone":
        return dataclasses.replace(camera, gamma=rng.uniform(0.45, 0.7))
    if kind == "noise":
        return dataclasses.replace(camera, read_sigma=3 * camera.read_sigma, shot_gain=3 * camera.shot_gain)
    if kind == "field":
        return dataclasses.replace(camera, field=rng.uniform(0.2, 0.3))
    if kind != "aperture":
        raise ValueError(f"camera shift must be one of {', '.join(CAMERA_SHIFTS)}, got {kind!r}")
    radius = camera.radius
    if rng.random() < 2 / 3:
        return dataclasses.replace(camera, psf=defocus_psf(radius, sides=int(rng.choice([3, 4])),
                                                           rotation=rng.uniform(0, np.pi), edge=shift_edge(radius),
                                                           softness=1.0))
    angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 0.8)
    return dataclasses.replace(camera, psf=cats_eye_psf(radius, offset, angle))


def shift_edge(radius):
    """Width (pixels) of the soft edge of `shift_camera`'s apertures of `radius` pixels."""
    return 0.6 + 0.08 * radius


def cats_eye_psf(radius, offset, angle):
    """The disc of `radius` (pixels) cut by another one `offset` times the radius away in direction `angle`
    (radians), as off-axis vignetting cuts a lens's aperture. Returns (n, n) float64, n odd, summing to 1."""
    edge = shift_edge(radius)
    psf = defocus_psf(radius, edge=edge, softness=1.0)
    half = psf.shape[0] // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    distance = np.hypot(x - offset * radius * np.cos(angle), y - offset * radius * np.sin(angle))
    psf = psf * np.clip((radius - distance) / edge + 0.5, 0.0, 1.0)
    return psf / psf.sum() if psf.sum() > 0 else defocus_psf(radius, edge=edge)


# Glare at steps 15-19, fitted to the text contrast of the real captures there
# (0.136, 0.123, 0.107, 0.078, 0.069 in 10x thumbnails): far more light is
# scattered than a disc PSF with the glare of steps 5-14 explains.
HIGH_STEP_GLARE = {15: 0.62, 16: 0.65, 17: 0.68, 18: 0.75, 19: 0.78}


def glare_for_radius(radius):
    """Typical veiling-glare fraction for a blur radius: 0.02 in focus, about 0.4 from r = 40 px up.

    Fitted to the real PSF estimates: the light outside the fitted kernel,
    1 - psf.sum(), is 0.02, 0.10, 0.20, 0.31, 0.35, 0.43 at steps 0-5 and
    0.39-0.43 beyond (docs/calibration.md).
    """
    return 0.42 * (1.0 - np.exp(-max(radius - 1.0, 0.0) / 18.0)) + 0.02


def glare_for_step(step, radius):
    """Typical glare of a capture at `step` with blur `radius`."""
    return HIGH_STEP_GLARE.get(step, glare_for_radius(radius))


def draw_blurred_camera(step, rng, nominal=False):
    """Random CAM02 (blurred camera) parameters for `step`.

    With `nominal`, the radius is the nominal one and the aperture a disc;
    otherwise radius, aperture shape, rim, glare, gain, vignetting and noise
    are drawn over the spread seen in the real captures and the estimates.
    """
    if nominal:
        radius, sides, rim, aspect, softness = NOMINAL_RADIUS[step], 0, 0.0, 1.0, 3.0
    else:
        low, high = RADIUS_RANGE[step]
        radius = rng.uniform(low, high)
        sides = int(rng.choice([0, 5, 6, 7, 8, 9]))
        rim = rng.uniform(-0.15, 0.25)
        aspect = rng.uniform(0.92, 1.08)
        softness = rng.uniform(1.0, 5.0)
    # The fitted real PSFs have a soft edge over about 5-15 % of the radius; the
    # real captures at steps 0-4 are softer than a disc alone (lens aberrations).
    edge = 0.6 + radius * rng.uniform(0.03, 0.15)
    psf = defocus_psf(radius, sides=sides, rotation=rng.uniform(0, np.pi), edge=edge, rim=rim, aspect=aspect,
                      softness=softness)
    glare = float(np.clip(glare_for_step(step, radius) + rng.normal(0.0, 0.05), 0.0, 0.85))
    return Camera(psf=psf, glare=glare, gain=rng.uniform(0.80, 0.97),
                  vignetting_strength=rng.uniform(0.05, 0.22),
                  vignetting_centre=(rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25)),
                  vignetting_tilt=(rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)),
                  read_sigma=rng.uniform(0.012, 0.03), shot_gain=rng.uniform(0.0, 4e-4),
                  hotspot_amplitude=0.15 if nominal else rng.uniform(0.05, 0.30),
                  hotspot_width=rng.uniform(0.25, 0.45), hotspot_power=rng.uniform(1.1, 1.8),
                  hotspot_centre=(rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)),
                  hotspot_additive=bool(rng.random() < 0.5), radius=float(radius))


def draw_sharp_camera(rng):
    """Random CAM01 (sharp camera) parameters: slight blur, vignetting, paper at 0.80-0.90 white."""
    return Camera(psf=gaussian_psf(rng.uniform(0.6, 1.6)), glare=rng.uniform(0.0, 0.04),
                  gain=rng.uniform(0.84, 0.92), vignetting_strength=rng.uniform(0.08, 0.18),
                  vignetting_centre=(rng.uniform(-0.2, 0.3), rng.uniform(-0.3, 0.1)),
                  vignetting_tilt=(rng.uniform(-0.04, 0.06), rng.uniform(-0.05, 0.03)),
                  read_sigma=rng.uniform(0.012, 0.022), shot_gain=rng.uniform(0.0, 2e-4))


def ring_psf(radius, inner):
    """A defocus ring: the disc of `radius` (pixels) without its centre out to `inner` times it, with the soft edge of
    `shift_camera`'s apertures. Returns (n, n) float64, n odd, summing to 1."""
    edge = shift_edge(radius)
    half = int(np.ceil(radius + edge + 4))
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    rho = np.hypot(x, y)
    psf = np.clip((radius - rho) / edge + 0.5, 0.0, 1.0) - np.clip((inner * radius - rho) / edge + 0.5, 0.0, 1.0)
    psf = ndimage.gaussian_filter(np.clip(psf, 0.0, None), 1.0, mode="constant")
    if psf.sum() <= 0:
        return defocus_psf(radius)
    return psf / psf.sum()


def vary_camera(camera, rng):
    """A blurred camera of `draw_blurred_camera` drawn wider, for training (`hdc.train`'s `--camera varied`): with
    probability 0.4 another aperture (`shift_camera`'s), the noise 1-3 times as strong with probability 0.5, a
    display-encoded response (gamma 0.45-1) with probability 0.3 and a blur that grows by 0-30 % towards the
    corners with probability 0.3. The drawn radius stays."""
    if rng.random() < 0.4:
        camera = shift_camera(camera, "aperture", rng)
    camera = noisy_camera(camera, rng)
    gamma = rng.uniform(0.45, 1.0) if rng.random() < 0.3 else 1.0
    field = rng.uniform(0.0, 0.3) if rng.random() < 0.3 else 0.0
    return dataclasses.replace(camera, gamma=gamma, field=field)


def noisy_camera(camera, rng):
    """`camera` with its read and shot noise 1-3 times as strong with probability 0.5, else itself (`hdc.train`'s
    `--camera noisy`, and `vary_camera`'s noise)."""
    if rng.random() >= 0.5:
        return camera
    factor = rng.uniform(1.0, 3.0)
    return dataclasses.replace(camera, read_sigma=factor * camera.read_sigma, shot_gain=factor * camera.shot_gain)
