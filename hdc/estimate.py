"""Blur-step estimation from the capture itself: ``python -m hdc.estimate INPUT_DIR [--json FILE]``.

A defocus disc of radius r multiplies the image's spectrum by its transfer function 2 J1(2π r ρ) / (2π r ρ),
whose rings of zeros sit at radii ρ fixed by r alone, whatever the image holds (text and photographs have
broad spectra). The estimator takes the radially averaged log power spectrum of the capture (at full size for
small discs, Hann-windowed; at half resolution for large ones, the periodic component's, unwindowed: `SCALES`),
keeps the frequencies above the noise floor, removes its smooth trend, and correlates what is left with the same
detrended profile of the disc's transfer function as that spectrum sees it, smoothed by the window's own spectrum
and the frequency bins (`disc_log_profiles`), for every candidate radius that could leave the capture's band
limit (`PLAUSIBLE`). The best correlation gives the radius (where that disc's first zero lies beyond the band,
the tied candidate whose first zero meets the band's edge: `BAND_EDGE`); the step is the one whose nominal radius
(`hdc.physics.NOMINAL_RADIUS`) is nearest on a log scale; the confidence is that correlation (0..1).

Measured (docs/estimation): the real 10x thumbnails give the exact step at every step 4-19 (23 of 23; at 1:10
the discs of steps 0-3 are under 2 pixels), the five real full-size captures (steps 3, 14, 14, 15, 19) the
exact step; on our synthetic test set 89.4 % of the text captures are within one step (an exact radius
estimator would reach 89.7 %, as the draws of adjacent steps overlap, and the best rule from an exact radius
to a step 97.0 %: `evaluation.estimation.best_rule_ceiling`). Against the radius drawn for each capture, 97.5 %
are within one step of that radius's step and 86.8 % of the radii within 10 % of it. Steps 0-2 are the weakest
(90 %, 82 % and 92 % within one step of the drawn radius's): their discs (1-13 px) hide behind the lens softness,
so no zero ring shows, the confidence is low and the step 0 (`DOUBTFUL_CONFIDENCE`). At steps 18-19 (92 % each)
the misses find about half or twice the drawn radius: the rings of a 150-210 px disc lie only 3.5-5 frequency
bins apart in a 1458-pixel frame, which is why that scale reads the unwindowed periodic spectrum. What each part
of the estimator gave is in docs/training-history.md ("What each change gave").
"""

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import fft, signal, special

from hdc.physics import NOMINAL_RADIUS

# (reduction, candidate radii in full-size pixels, periodic): small discs are looked for at full resolution, where
# their first zero lies below the Nyquist frequency, in the Hann-windowed spectrum, whose low leakage keeps their
# few rings; large ones at 1:2, where the spectrum has more signal per bin, in the periodic component's spectrum
# (`periodic_power`, no window), whose resolution tells apart the rings of a 150-210 px disc, 3.5-5 bins apart
# (`radial_log_profile` with `periodic`). Chosen on the tuning sets (seeds 1001-1002) and measured elsewhere
# (docs/training-history.md, "What each change gave", session 21).
SCALES = ((1, np.geomspace(1.5, 40.0, 90), False), (2, np.geomspace(30.0, 260.0, 150), True))
# Bounds on radius x band limit (see `estimate_radius`): (radius under which the bounds hold, low, high), by
# increasing radius. The signal band of a disc blur ends at one of its zeros (radius x frequency 0.61, 1.12, 1.62,
# 2.12, ...): the first for discs under 20 px (0.5-0.6 for the drawn radii of steps 1-3, 0.95 at most), further
# out for wider ones, whose rings lie where text has most power (1.0-1.6 at steps 4-8, 1.3-2.6 at steps 9-19).
# From the tuning sets' text captures (seeds 1001 and 1002, not the test set): the spurious large radii of sharp
# captures (steps 0-2) lay at 4.9-14 and are skipped by the bound 3 (within one step 73.1 % without bounds, 78.1
# % with, seed 1001); only discs from 150 px show rings further out (correct at 3.0-3.8; the real full-size step-19
# capture, 203 px, at 3.3); the spurious 12-15 px of sharp step-0 captures, which put the band limit at their third
# zero (1.5-1.8), are skipped by the bound 1 under 20 px: within one step at step 0 of the tuning sets 12 % -> 66
# %, no step lost, and on the mild set (seed 1006, steps 0-3, 400 captures, not tuned on) 72.8 % -> 85.0 % (steps
# 2-3 stay at 100 %); the real step-3 capture stays exact (19 px).
PLAUSIBLE = ((20.0, 0.35, 1.0), (150.0, 0.35, 3.0), (np.inf, 0.35, 4.0))
# Radius x frequency of a disc's first zero, j1 / (2 pi), j1 = 3.8317 the first zero of the Bessel function J1.
FIRST_ZERO = 0.6098
# (product, tied) for `estimate_radius`: where the best disc's radius x band limit is under 0.5, short of its first
# zero (0.61), the band ended at the first zero of a wider disc, hidden by lens softness and noise beyond it
# (steps 2-4: radii 7-13 found for discs of 11-23 px, all those within a correlation of 0.05 fitting alike); the
# candidate within 0.05 of the best whose first zero lies nearest the band limit is taken. Chosen on the tuning sets
# (seeds 1001 and 1002, 480 text captures, not the test set; the same within-one rate for ties of 0.01-0.05 and
# products of 0.45-0.55, 0.05 the best exact rate): within one step 88.8 -> 89.4 % and 84.7 -> 85.6 %, exact 45.0 ->
# 50.0 % and 50.0 -> 53.1 % (docs/training-history.md, "What each change gave", session 22).
BAND_EDGE = (0.5, 0.05)


class Estimate(NamedTuple):
    """The estimated step 0..19, disc radius in full-size pixels and confidence in [0, 1]."""
    step: int
    radius: float
    confidence: float


def centred_crop(image):
    """`image` (h, w) cropped about its centre to `fast_shape`, divided by its mean and centred: float32."""
    rows, columns = fast_shape(np.shape(image))
    top, left = (np.shape(image)[0] - rows) // 2, (np.shape(image)[1] - columns) // 2
    image = np.asarray(image, np.float32)[top:top + rows, left:left + columns]
    return image / max(float(image.mean()), 1e-6) - 1.0


def windowed_power(image):
    """The power spectrum (rfft2 layout) float32 of `image` (h, w) and the (rows, columns) it was taken over.

    A large image is cropped about its centre to sizes whose FFT is fast (`centred_crop`: at most a few per cent
    less); it is divided by its mean, centred and Hann-windowed, in float32."""
    image = centred_crop(image)
    transform = fft.rfft2(image * spectrum_grid(image.shape)[0], workers=-1)
    return transform.real ** 2 + transform.imag ** 2, image.shape


def periodic_power(image):
    """The power spectrum (rfft2 layout) float32 of the periodic component of `image` (h, w), and the (rows,
    columns) it was taken over (`centred_crop`, as `windowed_power`).

    Moisan's periodic + smooth decomposition: the smooth component is the one whose Laplacian is the jump across
    the frame's opposite borders, and what is left wraps around without the cross those jumps draw into the
    spectrum, so it needs no window and keeps the resolution of one frequency bin. The jumps lie on the four
    border lines, so their transform is made of the 1-D transforms of the two jumps (`periodic_grid`)."""
    image = centred_crop(image)
    row_factor, column_factor, laplacian = periodic_grid(image.shape)
    jumps = (fft.rfft(image[-1, :] - image[0, :])[None, :] * row_factor
             + fft.fft(image[:, -1] - image[:, 0])[:, None] * column_factor)
    transform = fft.rfft2(image, workers=-1) - jumps / laplacian
    transform[0, 0] = 0.0
    return transform.real ** 2 + transform.imag ** 2, image.shape


@functools.lru_cache(maxsize=4)
def periodic_grid(shape):
    """What `periodic_power` needs for every image of `shape` (h, w), made once: the factors (h, 1) and (1, w//2+1)
    complex64 that turn the 1-D transforms of the jump across the rows' and the columns' ends into the rfft2 of
    the jump image, and the periodic Laplacian's transform (h, w//2+1) float32 (1 at frequency 0)."""
    rows, columns = shape
    vertical, horizontal = fft.fftfreq(rows)[:, None], fft.rfftfreq(columns)[None, :]
    laplacian = 2.0 * np.cos(2.0 * np.pi * vertical) + 2.0 * np.cos(2.0 * np.pi * horizontal) - 4.0
    laplacian[0, 0] = 1.0
    return ((1.0 - np.exp(2j * np.pi * vertical)).astype(np.complex64),
            (1.0 - np.exp(2j * np.pi * horizontal)).astype(np.complex64), laplacian.astype(np.float32))


def radial_log_profile(power, shape, periodic=False):
    """The radial profile of a power spectrum `power` over `shape` (h, w): (frequencies in cycles per pixel,
    values), bins one frequency step wide from one step to 0.5. Of a `windowed_power`, the log of each bin's mean
    power; of a `periodic_power` (`periodic`), the mean of its log power, which the disc's factor shifts alike
    at every frequency of the bin, and which the unwindowed spectrum's few strong frequencies do not sway."""
    _, bins, counts, step = spectrum_grid(shape)
    frequencies = np.arange(counts.size) * step
    usable = frequencies <= 0.5
    if periodic:
        sums = np.bincount(bins, weights=np.log(power.ravel().astype(np.float64) + 1e-30), minlength=counts.size)
        return frequencies[usable][1:], sums[usable][1:] / np.maximum(counts[usable][1:], 1)
    sums = np.bincount(bins, weights=power.ravel(), minlength=counts.size)
    return frequencies[usable][1:], np.log(sums[usable][1:] / np.maximum(counts[usable][1:], 1) + 1e-30)


def fast_shape(shape, smallest=512):
    """The largest (h, w) within `shape` whose sides are products of 2, 3 and 5 (`scipy.fft.next_fast_len`),
    for frames whose sides are all at least `smallest` pixels; `shape` itself for smaller ones, whose FFT is
    cheap and which a crop of a few pixels would cost a measurable share of their spectrum (a 1:10 thumbnail,
    146 x 236, cropped to 144 x 225, lost its step-16 disc). A full-size capture's 1460 x 2360 holds the primes
    73 and 59, and its FFT on 1458 x 2304 is 2.3x faster."""
    def fast_below(size):
        while size > 1 and fft.next_fast_len(size, real=True) != size:
            size -= 1
        return size
    if min(shape) < smallest:
        return tuple(int(size) for size in shape)
    return tuple(fast_below(int(size)) for size in shape)


@functools.lru_cache(maxsize=4)
def spectrum_grid(shape):
    """What `windowed_power` and `radial_log_profile` need for every image of `shape` (h, w), made once: the Hann
    window (h, w) float32, each rfft2 frequency's bin (flattened), the count per bin, and the bin width (cycles per
    pixel)."""
    rows, columns = shape
    window = np.outer(np.hanning(rows), np.hanning(columns)).astype(np.float32)
    step = 1.0 / min(rows, columns)
    radius = np.hypot(fft.fftfreq(rows)[:, None], fft.rfftfreq(columns)[None, :])
    bins = np.rint(radius / step).astype(np.intp).ravel()
    return window, bins, np.bincount(bins), step


def disc_log_profiles(shape, radii, periodic=False, fine=16, floor=1e-6):
    """The log power transfer of discs of `radii` (pixels) as `radial_log_profile` sees it over `shape` (h, w):
    (len(radii), bins) float64, at the profile's frequencies.

    The disc's |2 J1(x) / x|², x = 2π radius ρ, is smoothed by what the estimator's spectrum goes through: the
    window's power spectrum along each axis (`window_power`: Hann, or none for a `periodic_power`; the mean of
    the rows' and the columns', as the rings cross both) and the average over each bin one frequency step wide.
    A wide disc's rings lie a few bins apart, and the Hann window half fills its zeros: the plain transfer, zeros
    and all, matched the detrended profile of a 150-210 px disc worse than that of half its radius. `fine`
    samples per bin; `floor` keeps the log finite."""
    return _disc_log_profiles(tuple(int(side) for side in shape), tuple(float(radius) for radius in radii),
                              periodic, fine, floor)


@functools.lru_cache(maxsize=16)
def _disc_log_profiles(shape, radii, periodic, fine, floor):
    step = 1.0 / min(shape)
    count = min(shape) // 2 + 1  # at least as many bins as `radial_log_profile` returns
    margin = 8 * fine
    frequencies = np.arange(count * fine + 2 * margin) * (step / fine)
    bin_average = np.r_[0.5, np.ones(fine - 1), 0.5] / fine
    window = np.ones if periodic else np.hanning
    kernel = np.convolve(0.5 * (window_power(shape[0], step, fine, window)
                                + window_power(shape[1], step, fine, window)), bin_average)
    x = 2.0 * np.pi * np.asarray(radii)[:, None] * frequencies[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        transfer = np.where(x > 1e-9, 2.0 * special.j1(x) / x, 1.0)
    reflected = np.concatenate([transfer[:, margin:0:-1], transfer], axis=1) ** 2  # even about frequency 0
    smoothed = signal.fftconvolve(reflected, kernel[None, :], mode="same", axes=1)[:, margin:]
    return np.log(np.maximum(smoothed[:, fine:(count + 1) * fine:fine], 0.0) + floor)


def window_power(length, step, fine, window=np.hanning, extent=6):
    """|W(f)|² of a `window` (np.hanning, np.ones) of `length` samples, normalized to sum 1, at frequency offsets of
    `step` / `fine` cycles per sample out to `extent` steps each side: (2 extent fine + 1,)."""
    offsets = np.arange(-extent * fine, extent * fine + 1) * (step / fine)
    transform = np.exp(-2j * np.pi * offsets[:, None] * np.arange(length)[None, :]) @ window(length)
    power = np.abs(transform) ** 2
    return power / power.sum()


def detrended(values, frequencies, degree=3):
    """`values` (n,) or (n, k) minus their least-squares polynomial of `degree` in log frequency (n,)."""
    basis = np.vander(np.log(frequencies), degree + 1)
    return values - basis @ np.linalg.lstsq(basis, values, rcond=None)[0]


def signal_band(frequencies, values, margin=1.5):
    """The mask of frequencies below the first one whose smoothed log power falls within `margin` of the
    noise floor (the median log power above 0.35 cycles per pixel)."""
    floor = float(np.median(values[frequencies > 0.35]))
    smooth = np.convolve(values, np.ones(5) / 5, mode="same")
    low = np.flatnonzero((smooth < floor + margin) & (frequencies > 0.01))
    limit = frequencies[low[0]] if low.size else 0.5
    return (frequencies >= 2 * frequencies[0]) & (frequencies <= limit)


def band_limit(spectra, reduction=1):
    """The band limit of the `Spectra` `spectra` at 1/`reduction`: the highest frequency (cycles per pixel at that
    scale) of the signal band (`signal_band`) of its profile there (the last frequency where no band stands out)."""
    frequencies, values = spectra.profile(reduction)
    band = signal_band(frequencies, values)
    return float(frequencies[band].max()) if band.any() else float(frequencies[-1])


class Spectra:
    """The power spectra and `radial_log_profile`s of one image (H, W) float32 at each reduction (box-averaged),
    windowed (`windowed_power`) or periodic (`periodic_power`), each made once, when first asked for:
    `Spectra(image).profile(2)`, `Spectra(image).power(2)`, `Spectra(image).profile(2, periodic=True)`.
    `estimate_radius`, `radius_within` and `hdc.aperture.fit_aperture` share them."""

    def __init__(self, image):
        self.image, self.powers, self.made, self.reduced = image, {}, {}, {}

    def power(self, reduction, periodic=False):
        """The `windowed_power` (or `periodic_power`) (power, shape) of the image at 1/`reduction`."""
        from hdc.preprocessing import resize, working_shape

        if reduction not in self.reduced:
            self.reduced[reduction] = self.image if reduction == 1 else resize(
                self.image, working_shape(self.image.shape, reduction), "box")
        if (reduction, periodic) not in self.powers:
            spectrum = periodic_power if periodic else windowed_power
            self.powers[reduction, periodic] = spectrum(self.reduced[reduction])
        return self.powers[reduction, periodic]

    def profile(self, reduction, periodic=False):
        """The `radial_log_profile` (frequencies, values) of `power`(`reduction`, `periodic`)."""
        if (reduction, periodic) not in self.made:
            self.made[reduction, periodic] = radial_log_profile(*self.power(reduction, periodic), periodic)
        return self.made[reduction, periodic]


def estimate_radius(image, scales=SCALES, plausible=PLAUSIBLE, band_edge=BAND_EDGE, spectra=None):
    """The disc radius in full-size pixels that best explains the spectrum of `image` (H, W) float32 in
    [0, 1] at full size, and the correlation that chose it (the confidence): the best over `scales`.

    plausible : bounds on radius x band limit, the highest frequency (cycles per full-size pixel) whose power stands
        above the noise floor (`signal_band`), by radius (`plausible_radii`). A disc's band ends at one of its
        zeros; candidates outside the bounds are skipped unless none is left, which removes the spurious large
        radii that a sharp capture's spectrum can match (None: all candidates).
    band_edge : (product, tied): where the best radius x band limit is under `product`, the band holds none of its
        zeros, and every disc whose first zero lies beyond the band fits about as well: the band ends at the
        disc's first zero then, and of the candidates within `tied` of the best correlation the one whose first
        zero lies nearest the band limit is taken (`band_edge_radius`; None: the best). The confidence stays the
        best correlation: how well a disc explains the spectrum.
    spectra : the image's `Spectra`, when already made."""
    spectra = Spectra(image) if spectra is None else spectra
    limit = band_limit(spectra)
    if plausible is not None:
        kept = [(reduction, radii[plausible_radii(radii, limit, plausible)], periodic)
                for reduction, radii, periodic in scales]
        if any(radii.size for _, radii, _ in kept):
            scales = [scale for scale in kept if scale[1].size]
    candidates = np.concatenate([radii for _, radii, _ in scales])
    scores = np.concatenate([candidate_scores(spectra, reduction, radii, periodic)
                             for reduction, radii, periodic in scales])
    best = int(np.argmax(scores))
    chosen = best
    if band_edge is not None and candidates[best] * limit < band_edge[0]:
        chosen = band_edge_radius(candidates, scores, limit, band_edge[1])
    return float(candidates[chosen]), max(0.0, float(scores[best]))


def band_edge_radius(candidates, scores, limit, tied):
    """The index of the candidate radius (full-size pixels) whose first zero (`FIRST_ZERO` / radius) lies nearest
    the band `limit` (cycles per full-size pixel) on a log scale, among those whose score is within `tied` of the
    best (`candidates`, `scores`: (n,))."""
    close = np.flatnonzero(scores >= scores.max() - tied)
    return int(close[np.argmin(np.abs(np.log(candidates[close] * limit / FIRST_ZERO)))])


def plausible_radii(radii, limit, plausible=PLAUSIBLE):
    """The mask of candidate `radii` (full-size pixels) whose product with the band `limit` (cycles per full-size
    pixel) lies within the `plausible` bounds: ((radius under which they hold, low, high), ...) by increasing
    radius."""
    radii = np.asarray(radii, np.float64)
    tier = np.minimum(np.searchsorted([under for under, _, _ in plausible], radii, side="right"), len(plausible) - 1)
    low, high = np.array([bounds[1:] for bounds in plausible]).T
    return (radii * limit >= low[tier]) & (radii * limit <= high[tier])


def radius_at_scale(spectra, reduction, candidates, periodic=False):
    """(radius, correlation) of the best of `candidates` (full-size pixels) for the `Spectra` `spectra` at
    1/`reduction` (`candidate_scores`)."""
    scores = candidate_scores(spectra, reduction, candidates, periodic)
    best = int(np.argmax(scores))
    return float(candidates[best]), max(0.0, float(scores[best]))


def candidate_scores(spectra, reduction, candidates, periodic=False):
    """The correlation (n,) in [-1, 1] of the detrended radial log spectrum (windowed, or `periodic`) of the
    `Spectra` `spectra` at 1/`reduction` within its signal band with each of the n `candidates`' (full-size pixels)
    detrended `disc_log_profiles`."""
    frequencies, values = spectra.profile(reduction, periodic)
    band = signal_band(frequencies, values)
    if band.sum() < 8:
        band = frequencies <= 0.5
    observed = detrended(values[band], frequencies[band])
    observed = observed / max(float(np.linalg.norm(observed)), 1e-12)
    models = disc_log_profiles(spectra.power(reduction, periodic)[1], np.asarray(candidates) / reduction,
                               periodic)
    models = detrended(models[:, :frequencies.size][:, band].T, frequencies[band]).T
    norms = np.linalg.norm(models, axis=1)
    return np.where(norms > 1e-9, models @ observed / np.maximum(norms, 1e-12), 0.0)


def radius_within(image, low, high, scales=SCALES, count=60, spectra=None):
    """(radius, correlation) of the disc within [low, high] (pixels of `image` (H, W) float32) that best explains
    its spectrum: `count` radii spaced evenly on a log scale over the part of [low, high] that each of `scales`
    covers, the best over the scales; None where no scale covers any of it. For a capture whose step is known
    and whose free estimate (`estimate_radius`) lies outside the step's range; `spectra` as there."""
    spectra = Spectra(image) if spectra is None else spectra
    found = [radius_at_scale(spectra, reduction, np.geomspace(max(low, radii[0]), min(high, radii[-1]), count),
                             periodic)
             for reduction, radii, periodic in scales if max(low, radii[0]) < min(high, radii[-1])]
    return max(found, key=lambda each: each[1]) if found else None


def step_for_radius(radius):
    """The step whose nominal disc radius is nearest to `radius` (full-size pixels) on a log scale."""
    return int(np.argmin(np.abs(np.log(np.asarray(NOMINAL_RADIUS)) - np.log(max(radius, 1e-3)))))


# Estimated steps that main.py's `auto` deblurs one step lower (`deblurring_step`). The estimator cannot tell
# the mildest steps apart (lens softness hides a disc of 1-25 px: on the tuning sets, seeds 1001 and 1002, 16 of
# 24 captures each of steps 0, 1 and 2 were estimated at step 2), and deblurring too much costs more than too
# little there: on those sets, captures of step 0 scored 91.9 / 91.0 / 86.5 / 75.7 deblurred at steps 0 / 1 / 2 /
# 3, of step 1 90.8 / 90.2 / 84.7 / 71.3, of step 2 93.8 / 94.0 / 94.0 / 92.5, of step 3 90.8 / 92.3 / 93.8 / 94.0.
# Over the captures each estimate came from, one step lower scores best or within 0.1 at estimates 1-3.
LOWERED_ESTIMATES = (1, 2, 3)
# The confidence from which an estimate of a capture whose border is not paper (a photograph: every text capture's
# border is paper) is trusted; below it main.py's `auto` deblurs at step 0. On the natural tuning sets (seeds
# 1003-1005, 360 photographs, not the test set), the non-paper photographs' estimates were too high by 4.7 steps
# on average at confidence < 0.5, 2.4 at 0.5-0.6, 1.0 at 0.6-0.7 and -0.45 from 0.7 up, and deblurring a
# photograph 3+ steps too hard cost it 6-13 dB. Over the 75 non-paper photographs under 0.7, PSNR gain over the
# blurred input (mean, share below the input): the estimate -1.63 dB, 48 %; step 0 +1.33 dB, 8 %; min(estimate,
# 3) +1.07 dB, 16 %; half the estimate +0.62 dB, 28 %; step 0 under 0.6 only +1.15 dB, 13 %; the true step
# +2.22 dB, 4 %.
TRUSTED_CONFIDENCE = 0.7
# The confidence under which no disc's rings explain the spectrum: the blur is below what it resolves, and the
# estimate is step 0 (`estimate`; main.py's `auto` deblurs such a capture at step 0). On the tuning sets (seeds
# 1001-1002, 480 text captures, not the test set) every text capture estimated under 0.4 was of step 0-2 (45; the
# lowest confidence at steps 3-19 was 0.40, at step 19); under 0.3 (31: 18 of step 0, 11 of step 1, 2 of step 2)
# the radius found ran 1.1 steps too high on average and 3 of them 3 or more, which costs a page its three lines.
# With the estimator before session 20, over the 16 captures then under 0.3, deblurring at step 0 scored 91.7 and
# at step 1 90.8 (the scores per step above `LOWERED_ESTIMATES`). Within one step on the tuning sets 84.4 -> 85.0
# %, on the mild set (seed 1006, steps 0-3, 400 captures, not tuned on) 85.0 -> 96.0 %.
DOUBTFUL_CONFIDENCE = 0.3


def deblurring_step(value, paper, lowered=LOWERED_ESTIMATES, trusted=TRUSTED_CONFIDENCE):
    """The step at which main.py's `auto` deblurs a capture with `Estimate` `value` whose border is paper or not
    (`hdc.preprocessing.Preprocessor.paper_border`): step 0 for a capture that is not paper (a photograph)
    estimated with a confidence under `trusted`, where the estimates run too high and too much deblurring ruins the
    image; one step lower for the estimates in `lowered`, where the estimator cannot tell the mild steps apart and
    too much deblurring costs more than too little; the estimate itself elsewhere (step 0 for a capture whose
    spectrum no disc explains: `estimate`)."""
    if not paper and value.confidence < trusted:
        return 0
    return value.step - 1 if value.step in lowered else value.step


def estimate(image, spectra=None, doubtful=DOUBTFUL_CONFIDENCE):
    """The `Estimate` (step, radius, confidence) of a capture `image` (H, W) float32 in [0, 1]: the best-fitting
    disc's radius and correlation (`estimate_radius`), and the step of that radius (`step_for_radius`), or step 0
    where the correlation is under `doubtful` (no disc's rings explain the spectrum: the blur is below what it
    resolves). `spectra`: the image's `Spectra`, when already made (they can then serve
    `hdc.preprocessing.Preprocessor.blur_radii` too)."""
    radius, confidence = estimate_radius(image, spectra=spectra)
    return Estimate(step_for_radius(radius) if confidence >= doubtful else 0, radius, confidence)


def estimate_files(files):
    """({file name: `Estimate`}, [(file name, reason)]) for TIFF `files`, carrying on past unreadable ones."""
    from hdc.io import ImageError, read_image

    estimates, failures = {}, []
    for path in files:
        try:
            estimates[Path(path).name] = estimate(read_image(path))
        except (ImageError, OSError) as error:
            failures.append((Path(path).name, str(error).removeprefix(f"{Path(path).name}: ")))
    return estimates, failures


def estimate_line(name, value):
    """The per-image line that main.py's `auto` and this CLI print."""
    return f"{name}: step {value.step} (radius {value.radius:.0f} px, confidence {value.confidence:.2f})"


def main(argv=None):
    from hdc.cli import UsageError, fail, input_files

    parser = argparse.ArgumentParser(prog="python -m hdc.estimate", description=__doc__.split("\n\n")[0])
    parser.add_argument("input_dir", metavar="INPUT_DIR", help="folder of blurred TIFFs")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help='write {name: {"step", "radius", "confidence"}} to FILE')
    arguments = parser.parse_args(argv)
    try:
        files = input_files(arguments.input_dir)
    except UsageError as error:
        return fail(error)
    estimates, failures = estimate_files(files)
    for name, value in estimates.items():
        print(estimate_line(name, value))
    if arguments.json:
        arguments.json.write_text(json.dumps({name: value._asdict() for name, value in estimates.items()}, indent=1)
                                  + "\n")
    for name, reason in failures:
        print(f"error: {name}: {reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
