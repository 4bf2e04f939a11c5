"""Data consistency: the network's estimate corrected to agree with the blurred input through the known blur.

The network paints what it has learnt: sharp text, which on a photograph is
wrong. A deconvolution method must stay true to its input, so the final image
solves, at 1/`reduction` resolution (the scorer reads at 1/2),

    x = argmin_x ||k * x - y||² + weight ||x - prior||²,
    prior = (1 - input_share) n + input_share y,

with y the blurred input divided by its background level, n the network's
output at the same scale and k the round disc PSF of the step's nominal
radius. In Fourier space, per frequency:

    X = (conj(K) Y + weight P) / (|K|² + weight).

Where the blur keeps a frequency (|K|² >> weight) the data decides, as in a
Wiener filter; where the blur erased it, the prior does, mostly the network.
On text the network's estimate already agrees with the data and little
changes; on a photograph the data restores the tones the network got wrong.
The weight and input share per step are tuned (`evaluation.consistency`) and
kept in the weights manifest.
"""

import dataclasses

import numpy as np

from hdc.physics import defocus_psf


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
        unknown = set(entry) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown consistency keys {sorted(unknown)}")
        return cls(weight=float(entry["weight"]), input_share=float(entry["input_share"]),
                   reduction=int(entry.get("reduction", 2)))


def transfer_function(radius, shape):
    """The real-FFT transfer function (shape[0], shape[1] // 2 + 1) complex of a round disc PSF of `radius`
    pixels centred at the origin of a `shape` (rows, columns) grid."""
    psf = defocus_psf(radius)
    size = psf.shape[0]
    grid = np.zeros(shape)
    grid[:size, :size] = psf
    return np.fft.rfft2(np.roll(grid, (-(size // 2), -(size // 2)), axis=(0, 1)))


def make_consistent(observed, estimate, radius, consistency):
    """The data-consistent image (h, w) float32 of `estimate` given `observed`.

    observed : (h, w) blurred input divided by its background level (paper ~1).
    estimate : (h, w) the network's output at the same scale and level.
    radius : the blur's disc radius in pixels of this scale.

    Both are mirrored by the PSF's reach before the FFT, so the borders do not wrap around.
    """
    observed = np.asarray(observed, np.float64)
    prior = (1.0 - consistency.input_share) * np.asarray(estimate, np.float64) + consistency.input_share * observed
    pad = int(np.ceil(radius * 1.25)) + 8
    observed = np.pad(observed, pad, mode="symmetric")
    prior = np.pad(prior, pad, mode="symmetric")
    blur = transfer_function(radius, observed.shape)
    solution = ((np.conj(blur) * np.fft.rfft2(observed) + consistency.weight * np.fft.rfft2(prior))
                / (np.abs(blur) ** 2 + consistency.weight))
    return np.fft.irfft2(solution, s=observed.shape)[pad:-pad, pad:-pad].astype(np.float32)
