"""The free-form PSF fit recovers the scale and the disc of a synthetic pair."""

import numpy as np
import pytest

from evaluation.psf_fit import fit_pair, scaled
from hdc.physics import convolve_fft, defocus_psf


def test_a_known_disc_and_scale_are_recovered():
    rng = np.random.default_rng(3)
    ink = np.zeros((1460, 2360))
    for _ in range(900):  # text-like blocks in the middle of the page, paper around
        top, left = rng.integers(450, 1000), rng.integers(500, 1850)
        ink[top:top + rng.integers(8, 30), left:left + rng.integers(8, 30)] = 1.0
    small_ink = ink[::2, ::2]
    blurred_ink = convolve_fft(scaled(small_ink, 0.93, (6.0, -4.0)), defocus_psf(61.0 / 2))
    blurred = np.kron(0.8 * (1 - 0.5 * blurred_ink), np.ones((2, 2))) + rng.normal(0, 0.005, ink.shape)
    fit = fit_pair(0.85 * (1 - 0.8 * ink), np.clip(blurred, 0, 1), step=8)
    assert fit["scale"] == pytest.approx(0.93, abs=0.006) and fit["correlation"] > 0.95
    assert fit["radius"] == pytest.approx(61.0, abs=3.0) and fit["sum"] == pytest.approx(0.5 / 0.8, abs=0.05)
    assert abs(fit["rim"] - 1.0) < 0.2 and abs(fit["halo"]) < 0.1
