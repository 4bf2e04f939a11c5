"""The blur kernel's shape, found in the capture's own spectrum, for lenses whose aperture is not round.

A defocus kernel is the lens's aperture, scaled. The capture's power spectrum is the scene's times |K|², and the
transfer function K along a direction φ is that of the aperture's projection onto φ (the central slice
theorem): a triangle, a square or a disc cut by vignetting (a cat's eye) leaves rings of zeros whose radius
changes with the direction, where a disc's are circles. `fit_aperture` bins the capture's log power by frequency
ρ and direction φ, removes its smooth trend in ρ, and correlates it with the same for each of `SHAPES` at a range
of radii and every rotation (a circular correlation over φ). Text streaks its own spectrum along both axes, so a
wedge about each axis is left out.

The power spectrum cannot tell a kernel from its point reflection (|K(f)| = |K(-f)|), which a triangle or a
cat's eye is not: `oriented_wiener_deconvolve` deconvolves by both and keeps the one whose ink comes out darker
(the right kernel gathers the ink's light back where the reflected one spreads it further).

Measured (docs/training-history.md, the table of changes): on 30 captures of the aperture set (seed 1007:
triangles, squares, cat's eyes) the shape was right for all 30, the radius within 10 % (most within 3 %), the
rotation within 2 degrees up to the reflection; the true shapes beat the disc by 0.3-0.67 in correlation. On the
calibrated cameras' captures (round or 5-9 blades) the fit picks the disc or a near-round polygon, ahead of the
disc by at most 0.22 (tuning set, seed 1001). The Wiener channel of the fitted kernel took the aperture set from
46-28 points at steps 8-16 to 90-51, and a second one never looked at before (seed 1008) from 70-26 to 89-52.
"""

import functools
from typing import NamedTuple

import numpy as np
from scipy import fft, ndimage

from hdc.estimate import Spectra, band_limit
from hdc.physics import cats_eye_psf, defocus_psf, ring_psf


class Shape(NamedTuple):
    """An aperture: "polygon" with `parameter` sides (0: a disc), "cats-eye" (a disc cut by another one
    `parameter` radii away) or "ring" (the inner radius `parameter` times the outer one)."""
    kind: str
    parameter: float


DISC = Shape("polygon", 0)
SHAPES = (DISC, Shape("polygon", 3), Shape("polygon", 4), Shape("polygon", 5), Shape("polygon", 6),
          Shape("polygon", 8), Shape("cats-eye", 0.5), Shape("cats-eye", 0.7), Shape("ring", 0.45))
# Polar bins of the fit: directions over [0, π) (a power spectrum is point-symmetric), and the wedge (degrees)
# about each axis left out.
DIRECTIONS = 90
AXIS_WEDGE = 8.0
# The shape's transfer functions are tabulated over frequency x radius (cycles per radius) up to this, from a
# kernel of REFERENCE_RADIUS pixels on a TABLE_SIZE grid; a disc's signal ends by about 4 cycles per radius.
CYCLES_PER_RADIUS = np.linspace(0.0, 8.0, 801)
REFERENCE_RADIUS = 30.0
TABLE_SIZE = 1024
# How much better (correlation) than the disc another shape must fit to be used (see `Preprocessor.blur_kernel`).
SHAPE_MARGIN = 0.05


class Aperture(NamedTuple):
    """A fitted aperture: its `Shape`, area-equivalent radius (pixels of the image fitted: `fit_aperture`'s
    radii), rotation (radians) and correlation, and the best disc's correlation."""
    shape: Shape
    radius: float
    rotation: float
    score: float
    disc_score: float

    def kernel(self):
        """The kernel (n, n) float64 summing to 1."""
        return shape_kernel(self.shape, self.radius, self.rotation)

    def clearly_not_round(self, margin=SHAPE_MARGIN):
        """Whether a shape other than the disc fits better than it by more than `margin`."""
        return self.shape != DISC and self.score > self.disc_score + margin


def shape_kernel(shape, radius, rotation=0.0):
    """The kernel of `shape` with area-equivalent `radius` (pixels), rotated by `rotation` (radians), with the soft
    edge of a real defocus kernel: (n, n) float64 summing to 1."""
    if shape.kind == "polygon":
        return defocus_psf(radius, sides=int(shape.parameter), rotation=rotation, edge=0.6 + 0.03 * radius)
    if shape.kind == "cats-eye":
        return cats_eye_psf(radius, shape.parameter, rotation)
    if shape.kind == "ring":
        return ring_psf(radius, shape.parameter)
    raise ValueError(f"unknown aperture kind {shape.kind!r}")


@functools.lru_cache(maxsize=None)
def polar_transfer(shape, depth=1e-3):
    """log(|K|² + `depth`) of `shape` at radius 1 on (`CYCLES_PER_RADIUS`, `DIRECTIONS`), made once per shape."""
    kernel = shape_kernel(shape, REFERENCE_RADIUS)
    grid = np.zeros((TABLE_SIZE, TABLE_SIZE))
    size, half = kernel.shape[0], kernel.shape[0] // 2
    grid[:size, :size] = kernel
    power = np.abs(fft.fftshift(fft.fft2(np.roll(grid, (-half, -half), axis=(0, 1))))) ** 2
    directions = (np.arange(DIRECTIONS) + 0.5) * np.pi / DIRECTIONS
    frequencies = CYCLES_PER_RADIUS[:, None] / REFERENCE_RADIUS * TABLE_SIZE
    coordinates = np.array([frequencies * np.sin(directions) + TABLE_SIZE // 2,
                            frequencies * np.cos(directions) + TABLE_SIZE // 2])
    return np.log(ndimage.map_coordinates(power, coordinates, order=1) + depth)


@functools.lru_cache(maxsize=4)
def polar_grid(shape):
    """For every rfft2 frequency of a `windowed_power` over `shape` (rows, columns), flattened: its frequency
    (cycles per pixel) and its direction bin (0..DIRECTIONS-1 over [0, π)), made once per shape."""
    rows, columns = shape
    down, across = np.meshgrid(fft.fftfreq(rows), fft.rfftfreq(columns), indexing="ij")
    direction = np.minimum((np.mod(np.arctan2(down, across), np.pi) / np.pi * DIRECTIONS).astype(int),
                           DIRECTIONS - 1)
    return np.hypot(down, across).ravel(), direction.ravel()


def polar_log_spectrum(spectra, reduction=2):
    """The log power spectrum of an image at 1/`reduction` (its `hdc.estimate.Spectra`), binned by frequency (bins
    one frequency step wide, from two steps to the end of the signal band, `hdc.estimate.band_limit`) and by
    direction (`DIRECTIONS` over [0, π)).

    Returns the bins' frequencies (n,) in cycles per pixel of the image, the log power (n, DIRECTIONS) and each bin's
    weight (n, DIRECTIONS): its count of frequencies, 0 near the axes (`AXIS_WEDGE`) and where empty."""
    power, shape = spectra.power(reduction)
    limit = band_limit(spectra, reduction)
    step = 1.0 / min(shape)
    edges = np.arange(2 * step, limit + step, step)
    if edges.size < 9:
        edges = np.arange(2 * step, 10 * step + step / 2, step)
    rho, direction = polar_grid(shape)
    radius = np.digitize(rho, edges) - 1
    kept = (radius >= 0) & (radius < edges.size - 1)
    bins = radius[kept] * DIRECTIONS + direction[kept]
    total = (edges.size - 1) * DIRECTIONS
    counts = np.bincount(bins, minlength=total)
    sums = np.bincount(bins, weights=power.ravel()[kept], minlength=total)
    log_power = np.log(sums / np.maximum(counts, 1) + 1e-30).reshape(-1, DIRECTIONS)
    weights = counts.reshape(-1, DIRECTIONS).astype(np.float64)
    degrees = (np.arange(DIRECTIONS) + 0.5) * 180.0 / DIRECTIONS
    weights[:, (np.minimum(degrees, 180.0 - degrees) < AXIS_WEDGE) | (np.abs(degrees - 90.0) < AXIS_WEDGE)] = 0.0
    return (edges[:-1] + edges[1:]) / 2 / reduction, log_power, weights


def radially_detrended(values, frequencies, weights=None, degree=3):
    """`values` (n, directions) minus a polynomial of `degree` in log frequency fitted to their (weighted) mean
    over the directions: the rings stay, the spectrum's fall with frequency goes."""
    weights = np.ones_like(values) if weights is None else weights
    counted = weights.sum(axis=1)
    profile = (values * weights).sum(axis=1) / np.maximum(counted, 1e-12)
    basis = np.vander(np.log(frequencies), degree + 1)
    trend = basis @ np.linalg.lstsq(basis[counted > 0], profile[counted > 0], rcond=None)[0]
    return values - trend[:, None]


def fit_aperture(image, radii, shapes=SHAPES, reduction=2, spectra=None):
    """The `Aperture` among `shapes` x `radii` (pixels of `image`) x every rotation (in steps of π / DIRECTIONS)
    whose log transfer function best correlates with the polar log spectrum of `image` (H, W) float32 in [0, 1]
    at 1/`reduction` (`polar_log_spectrum`; `spectra`: the image's `hdc.estimate.Spectra`, when already made,
    which the radius estimate shares)."""
    frequencies, log_power, weights = polar_log_spectrum(Spectra(image) if spectra is None else spectra, reduction)
    observed = radially_detrended(log_power, frequencies, weights)
    weighted = observed * weights
    weighted_spectrum, weights_spectrum = np.fft.rfft(weighted, axis=1), np.fft.rfft(weights, axis=1)
    observed_norm = np.sqrt(float((weighted * observed).sum()))
    step = CYCLES_PER_RADIUS[1] - CYCLES_PER_RADIUS[0]
    found, disc = None, (-np.inf, 0.0)
    for shape in shapes:
        table = polar_transfer(shape)
        for radius in radii:
            position = np.clip(frequencies * radius / step, 0, CYCLES_PER_RADIUS.size - 1.001)
            index, fraction = position.astype(int), (position - position.astype(int))[:, None]
            model = radially_detrended(table[index] * (1 - fraction) + table[index + 1] * fraction, frequencies)
            # correlation with the model rotated by k bins, model(φ - k), for every k at once
            products = np.fft.irfft((weighted_spectrum * np.conj(np.fft.rfft(model, axis=1))).sum(axis=0),
                                    DIRECTIONS)
            energies = np.fft.irfft((weights_spectrum * np.conj(np.fft.rfft(model ** 2, axis=1))).sum(axis=0),
                                    DIRECTIONS)
            scores = products / np.maximum(np.sqrt(np.maximum(energies, 0.0)) * observed_norm, 1e-12)
            best = int(np.argmax(scores))
            candidate = (float(scores[best]), shape, float(radius), best * np.pi / DIRECTIONS)
            if found is None or candidate[0] > found[0]:
                found = candidate
            if shape == DISC and candidate[0] > disc[0]:
                disc = candidate
    return Aperture(found[1], found[2], found[3], found[0], disc[0])
