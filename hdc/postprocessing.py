"""Post-processing: the network's working-scale output made into the final full-size image.

`Postprocessor.finish` takes a network output (`Result`) and, in order: divides out its own paper surface
where the input's border was paper (so the paper is white where the scorer takes its white point); with data
consistency, corrects it at 1/`reduction` scale so that it agrees with the blurred input through the known
blur; scales it by its 99.9th percentile where that is above 1 (tones are kept, never clipped at the paper);
upscales it to the input's size. `Postprocessor.observe` makes the blurred input the consistency needs
(`Observation`), on the network input's scale.

Data consistency: the network's estimate corrected to agree with the blurred input through the known blur.

The network paints what it has learnt: sharp text, which on a photograph is
wrong. A deconvolution method must stay true to its input, so the final image
solves, at 1/`reduction` resolution (the scorer reads at 1/2),

    x = argmin_x ||k * x - y||² + weight ||x - prior||²,
    prior = (1 - input_share) n + input_share y,

with y the blurred input divided by its background level, n the network's
output at the same scale and k the round disc PSF of the step's radius
(the model's `radii`, by default the nominal ones). With mirrored borders the cosine
transform makes the blur a product, and per frequency:

    X = (K Y + weight P) / (K² + weight).

Where the blur keeps a frequency (|K|² >> weight) the data decides, as in a
Wiener filter; where the blur erased it, the prior does, mostly the network.
On text the network's estimate already agrees with the data and little
changes; on a photograph the data restores the tones the network got wrong.
The weight and input share per step are tuned (`evaluation.consistency`) and
kept in the weights manifest.

The discrepancy principle (Morozov's) chooses the weight per image instead
(`tolerance`). The prior is the network's output alone, mapped onto the
observation's scale by the gain and offset that best fit its blurred version
to the input (`y ≈ gain k * n + offset`: the camera's ink is grey and glare
lifts it, the network's is black). When that prior already explains the
input to within `tolerance` times the input's noise level (`noise_level`),
it is kept as it is: the network's output is returned unchanged, as on most
text. Otherwise the weight is the one at which the solution's residual
||k * x - y|| equals that level: the output moves toward the data just as far
as the data demand, and is mapped back to the network's scale. On text at the
mild steps and on photographs, whose details at the input's resolution the
network (at 1:7) cannot draw, the input restores them. The noise level, the
kernel's radii and the observation's gain are measured per image; only
`tolerance` is tuned.
"""

import dataclasses
from typing import NamedTuple

import numpy as np
from scipy import fft

from hdc.preprocessing import background_level, cosine_transfers, resize, working_shape
from hdc.validation import dataclass_from_dict


class Observation(NamedTuple):
    """The blurred input at the data consistency's scale, divided by its background level, (h, w) float32,
    and the blur model's disc radii (tuple) in pixels of that scale."""
    image: np.ndarray
    radii: tuple


class Result(NamedTuple):
    """A network output (h, w) float32 in [0, 1], whether its image's border was paper, and the
    `Observation` for data consistency (None without it, or where the blur model is a kernel other than discs,
    which its cosine transform cannot hold: the network's output then stays as it is)."""
    output: np.ndarray
    paper: bool
    observation: Observation = None


@dataclasses.dataclass(frozen=True)
class Consistency:
    """How the data consistency weighs the prior: a fixed `weight` > 0 with `input_share` in [0, 1] of the
    prior being the blurred input itself, or a `tolerance` > 0 (the discrepancy principle: the weight of each
    image is chosen so that its residual is `tolerance` times its noise level; the prior is the network's
    output alone). `reduction`: the correction runs at 1/`reduction` of the input's resolution."""

    weight: float = None
    input_share: float = 0.0
    reduction: int = 2
    tolerance: float = None

    def __post_init__(self):
        if (self.weight is None) == (self.tolerance is None):
            raise ValueError("consistency needs either a weight or a tolerance, not both")
        if self.weight is not None and not (np.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"consistency weight must be positive, got {self.weight}")
        if self.tolerance is not None and not (np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"consistency tolerance must be positive, got {self.tolerance}")
        if not 0.0 <= self.input_share <= 1.0:
            raise ValueError(f"consistency input_share must be in [0, 1], got {self.input_share}")
        if self.tolerance is not None and self.input_share != 0.0:
            raise ValueError("consistency with a tolerance keeps the network's output as its prior: input_share "
                             f"must be 0, got {self.input_share}")
        if int(self.reduction) != self.reduction or self.reduction < 1:
            raise ValueError(f"consistency reduction must be a positive integer, got {self.reduction}")

    def to_dict(self):
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, entry):
        """From a manifest entry ({"weight", "input_share"} or {"tolerance"}, optional "reduction");
        ValueError if invalid."""
        return dataclass_from_dict(cls, entry, "consistency")


def noise_level(image):
    """The standard deviation of white noise in `image` (h, w): the median absolute value of its finest
    diagonal Haar wavelet coefficients / 0.6745 (Donoho's estimate; edges are few among the coefficients, so
    they hardly move the median)."""
    rows, columns = (size // 2 * 2 for size in image.shape)
    image = np.asarray(image[:rows, :columns], np.float64)
    diagonal = (image[0::2, 0::2] - image[0::2, 1::2] - image[1::2, 0::2] + image[1::2, 1::2]) / 2
    return float(np.median(np.abs(diagonal)) / 0.6745)


def make_consistent(observed, estimate, radii, consistency):
    """The data-consistent image (h, w) float32 of `estimate` given `observed`.

    observed : (h, w) blurred input divided by its background level (paper ~1).
    estimate : (h, w) the network's output at the same scale and level.
    radii : the blur's disc radius in pixels of this scale, or several when it is one of them, unknown: the
        solution then minimizes the expected data misfit over them, X = (E[K] Y + λ P) / (E[K²] + λ)
        (`hdc.preprocessing.cosine_transfers`), which is the formula above for one radius.
    consistency : a `Consistency`: its fixed weight, or its tolerance (`discrepancy_solution`).

    The blur has mirrored borders, as the Wiener channel's and the generator's: the cosine transform (DCT-II)
    makes it a product per frequency, so nothing wraps around.
    """
    radii = tuple(float(radius) for radius in np.atleast_1d(radii))
    mean, power = cosine_transfers(radii, np.shape(observed))
    observed_spectrum = fft.dctn(np.asarray(observed, np.float64), norm="ortho")
    if consistency.tolerance is not None:
        solution = discrepancy_solution(observed_spectrum, fft.dctn(np.asarray(estimate, np.float64), norm="ortho"),
                                        mean, power, consistency.tolerance * noise_level(observed))
        if solution is None:
            return np.asarray(estimate, np.float32)
    else:
        prior = (1.0 - consistency.input_share) * np.asarray(estimate) + consistency.input_share * np.asarray(observed)
        solution = ((mean * observed_spectrum + consistency.weight * fft.dctn(np.asarray(prior, np.float64),
                                                                               norm="ortho"))
                    / (power + consistency.weight))
    return fft.idctn(solution, norm="ortho").astype(np.float32)


# The discrepancy principle's search: weights from 0.01 (the Wiener channel's balance: a frequency the blur
# keeps at 10 % is restored at most 5x; below it, where the spread blur model cannot explain the data to the
# noise level, the solution is the inverse filter's noise: 17.8 dB instead of 27.1 on a checkerboard at step 2) to
# 1e4 (the prior), bisected in log space to a factor of 1.1.
WEIGHT_BOUNDS = (1e-2, 1e4)
# The lowest gain of the prior on the observation's scale: a network output that barely correlates with its
# input (gain near 0 or below) is not magnified by more than 1 / MINIMUM_GAIN when mapped back.
MINIMUM_GAIN = 0.1


def discrepancy_solution(observed, estimate, mean, power, level):
    """The orthonormal DCT-II (h, w) of the discrepancy principle's solution, on the estimate's scale, or None
    when the estimate already explains the observation (keep it as it is).

    observed, estimate : orthonormal DCT-II (h, w) of the observation and the network's output.
    mean, power : E[K] and E[K²] of the blur model on the same grid (`hdc.preprocessing.cosine_transfers`).
    level : the root-mean-square residual to reach (tolerance × noise level).

    The prior is gain · estimate + offset, fitted so that its blurred version best matches the observation.
    For a weight λ, X = (E[K] Y + λ P) / (E[K²] + λ) and the residual is
    E[K] X - Y = ((E[K]² - E[K²]) Y + λ (E[K] P - Y)) / (E[K²] + λ), whose mean square (Parseval) grows
    with λ; λ is bisected until it equals level², and the solution is mapped back by (X - offset) / gain.
    """
    count = observed.size
    blurred = mean * estimate
    # Least-squares gain and offset of the blurred estimate onto the observation: the first (constant)
    # coefficients carry the means, times sqrt(count); the others the covariances.
    gain = float((np.sum(blurred * observed) - blurred[0, 0] * observed[0, 0])
                 / max(np.sum(blurred ** 2) - blurred[0, 0] ** 2, 1e-12))
    gain = max(gain, MINIMUM_GAIN)
    offset = float(observed[0, 0] - gain * blurred[0, 0]) / np.sqrt(count)
    prior = gain * estimate
    prior[0, 0] += offset * np.sqrt(count)
    data_part = (mean ** 2 - power) * observed
    prior_part = mean * prior - observed

    def mean_square(weight):
        return float(np.sum(((data_part + weight * prior_part) / (power + weight)) ** 2)) / count

    target = level ** 2
    if float(np.sum(prior_part ** 2)) / count <= target:
        return None
    low, high = np.log(WEIGHT_BOUNDS[0]), np.log(WEIGHT_BOUNDS[1])
    if mean_square(WEIGHT_BOUNDS[0]) < target:
        while high - low > np.log(1.1):
            middle = (low + high) / 2
            low, high = (middle, high) if mean_square(np.exp(middle)) < target else (low, middle)
    weight = np.exp(low)
    solution = (mean * observed + weight * prior) / (power + weight)
    solution[0, 0] -= offset * np.sqrt(count)
    return solution / gain


class Postprocessor:
    """Finishes network outputs for one working-scale preprocessing (see the module docstring).

    Parameters
    ----------
    preprocessor : the `hdc.preprocessing.Preprocessor` that made the network's inputs (its background fits
        and scale are shared).
    consistency : a `Consistency`, or None for the network's output as it is (only rescaled and upscaled).
    """

    def __init__(self, preprocessor, consistency=None):
        self.preprocessor = preprocessor
        self.consistency = consistency

    def observe(self, image, step, paper, radii=None):
        """The `Observation` of `image` (H, W) float32 in [0, 1] blurred at `step`, or None without data
        consistency: `image` area-averaged to 1/`reduction` of its size and divided by its background level,
        with the network input's decision `paper`, so that both are on one scale (paper ~1, or a natural image
        divided by twice its mean); the blur model's disc radii in pixels of that scale, from `radii` in
        full-size pixels (default: the preprocessor's `blur_radii` of the image)."""
        if self.consistency is None:
            return None
        shape = working_shape(image.shape, self.consistency.reduction)
        small = resize(image, shape, "box")
        level = background_level(small, self.preprocessor.fit_for(shape), paper)
        radii = self.preprocessor.blur_radii(image, step) if radii is None else radii
        scale = self.preprocessor.full_scale(shape)
        return Observation((small / level).astype(np.float32), tuple(radius / scale for radius in radii))

    def finish(self, result, shape):
        """The final image (H, W) = `shape`, float32 in [0, 1], of a network `Result`.

        With data consistency, the text's overshoot lowers the paper to about 0.87, which the scorer's
        normalization (white point from the left columns) undoes; clipping at the paper's level instead cost
        the sanity check's bright clock image up to 5 dB.
        """
        output = result.output
        if result.paper:
            output = output / np.maximum(self.preprocessor.fit_for(output.shape)(output), 0.05)
        if self.consistency is not None and result.observation is not None:
            observed, radii = result.observation
            output = make_consistent(observed, resize(output, observed.shape, "bicubic"), radii, self.consistency)
        output = output / max(1.0, float(np.quantile(output, 0.999)))
        return np.clip(resize(output, shape, "bicubic"), 0.0, 1.0)
