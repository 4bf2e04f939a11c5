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
(the model's `radii`, by default the nominal ones). In Fourier space, per frequency:

    X = (conj(K) Y + weight P) / (|K|² + weight).

Where the blur keeps a frequency (|K|² >> weight) the data decides, as in a
Wiener filter; where the blur erased it, the prior does, mostly the network.
On text the network's estimate already agrees with the data and little
changes; on a photograph the data restores the tones the network got wrong.
The weight and input share per step are tuned (`evaluation.consistency`) and
kept in the weights manifest.
"""

import dataclasses
from typing import NamedTuple

import numpy as np

from hdc.preprocessing import background_level, resize, spread_transfers, working_shape
from hdc.validation import dataclass_from_dict


class Observation(NamedTuple):
    """The blurred input at the data consistency's scale, divided by its background level, (h, w) float32,
    and the blur model's disc radii (tuple) in pixels of that scale."""
    image: np.ndarray
    radii: tuple


class Result(NamedTuple):
    """A network output (h, w) float32 in [0, 1], whether its image's border was paper, and the
    `Observation` for data consistency (None without it)."""
    output: np.ndarray
    paper: bool
    observation: Observation = None


@dataclasses.dataclass(frozen=True)
class Consistency:
    """How strongly the prior is trusted (`weight` > 0), how much of the prior is the blurred input itself
    (`input_share` in [0, 1]) and the resolution of the correction (1/`reduction` of the input's)."""

    weight: float
    input_share: float
    reduction: int = 2

    def __post_init__(self):
        if not (np.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"consistency weight must be positive, got {self.weight}")
        if not 0.0 <= self.input_share <= 1.0:
            raise ValueError(f"consistency input_share must be in [0, 1], got {self.input_share}")
        if int(self.reduction) != self.reduction or self.reduction < 1:
            raise ValueError(f"consistency reduction must be a positive integer, got {self.reduction}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, entry):
        """From a manifest entry {"weight", "input_share", optional "reduction"}; ValueError if invalid."""
        return dataclass_from_dict(cls, entry, "consistency")


def make_consistent(observed, estimate, radii, consistency):
    """The data-consistent image (h, w) float32 of `estimate` given `observed`.

    observed : (h, w) blurred input divided by its background level (paper ~1).
    estimate : (h, w) the network's output at the same scale and level.
    radii : the blur's disc radius in pixels of this scale, or several when it is one of them, unknown: the
        solution then minimizes the expected data misfit over them, X = (conj(E[K]) Y + λ P) / (E|K|² + λ)
        (`hdc.preprocessing.spread_transfers`), which is the formula above for one radius.

    Both are mirrored by the PSF's reach before the FFT, so the borders do not wrap around.
    """
    radii = tuple(float(radius) for radius in np.atleast_1d(radii))
    observed = np.asarray(observed, np.float64)
    prior = (1.0 - consistency.input_share) * np.asarray(estimate, np.float64) + consistency.input_share * observed
    pad = int(np.ceil(max(radii) * 1.25)) + 8
    observed = np.pad(observed, pad, mode="symmetric")
    prior = np.pad(prior, pad, mode="symmetric")
    mean, power = spread_transfers(radii, observed.shape)
    solution = ((np.conj(mean) * np.fft.rfft2(observed) + consistency.weight * np.fft.rfft2(prior))
                / (power + consistency.weight))
    return np.fft.irfft2(solution, s=observed.shape)[pad:-pad, pad:-pad].astype(np.float32)


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
        if self.consistency is not None:
            if result.observation is None:
                raise ValueError("data consistency needs a result prepared with its observation")
            observed, radii = result.observation
            output = make_consistent(observed, resize(output, observed.shape, "bicubic"), radii, self.consistency)
        output = output / max(1.0, float(np.quantile(output, 0.999)))
        return np.clip(resize(output, shape, "bicubic"), 0.0, 1.0)
