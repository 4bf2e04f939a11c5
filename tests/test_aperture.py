import numpy as np
import pytest

from hdc.aperture import Shape, fit_aperture, shape_kernel
from hdc.physics import CAMERA_SHAPE, convolve_fft, defocus_psf
from hdc.preprocessing import Preprocessor, kernel_wiener_deconvolve, oriented_wiener_deconvolve, wiener_deconvolve

TRIANGLE = Shape("polygon", 3)


def page(shape=(365, 590), seed=0):
    """Paper at 0.85 with glyph-like dark strokes in its middle, (H, W) float32: a broad spectrum, as text has."""
    rng = np.random.default_rng(seed)
    image = np.full(shape, 0.85)
    rows, columns = shape
    for _ in range(900):
        top, left = rng.integers(int(0.3 * rows), int(0.7 * rows)), rng.integers(int(0.15 * columns),
                                                                                  int(0.85 * columns))
        height, width = rng.integers(2, 9), rng.integers(1, 4)
        if rng.random() < 0.5:
            height, width = width, height
        image[top:top + height, left:left + width] = 0.1
    return image.astype(np.float32)


def blurred(image, psf, noise=0.003, seed=1):
    """`image` through `psf` with mirrored borders, plus white noise."""
    half = psf.shape[0] // 2
    padded = np.pad(image, half, mode="symmetric")
    result = convolve_fft(padded, psf)[half:half + image.shape[0], half:half + image.shape[1]]
    return (result + np.random.default_rng(seed).normal(0, noise, image.shape)).astype(np.float32)


def test_a_triangle_is_told_from_a_disc_with_its_radius_and_rotation():
    rotation = 0.4
    image = blurred(page(), shape_kernel(TRIANGLE, 14.0, rotation))
    fitted = fit_aperture(image, np.geomspace(10.0, 20.0, 16), reduction=1)
    assert fitted.shape == TRIANGLE and fitted.clearly_not_round()
    assert fitted.radius == pytest.approx(14.0, rel=0.08)
    # a power spectrum sees a triangle's rotation modulo 60 degrees (its point reflection is turned by 60)
    difference = (fitted.rotation - rotation) % (np.pi / 3)
    assert min(difference, np.pi / 3 - difference) < np.radians(6)


def test_a_disc_is_a_disc():
    image = blurred(page(), defocus_psf(14.0, edge=1.0))
    fitted = fit_aperture(image, np.geomspace(10.0, 20.0, 16), reduction=1)
    assert not fitted.clearly_not_round()
    assert fitted.disc_score > 0.3


def test_the_kernel_wiener_filter_of_a_symmetric_kernel_is_the_cosine_transforms():
    image = blurred(page((120, 170)), defocus_psf(6.0), noise=0.0)
    np.testing.assert_allclose(kernel_wiener_deconvolve(image, defocus_psf(6.0), 0.01),
                               wiener_deconvolve(image, 6.0, 0.01), atol=2e-4)


def test_the_oriented_filter_picks_the_kernel_not_its_reflection():
    sharp = page((240, 360)) / 0.85 - 1.0  # flattened: paper 0, ink below
    psf = shape_kernel(TRIANGLE, 9.0, 0.3)
    image = blurred(sharp, psf, noise=0.001)
    right = kernel_wiener_deconvolve(image, psf, 0.01)
    np.testing.assert_array_equal(oriented_wiener_deconvolve(image, psf, 0.01), right)
    np.testing.assert_array_equal(oriented_wiener_deconvolve(image, psf[::-1, ::-1], 0.01), right)


def test_the_preprocessor_fits_an_aperture_only_when_asked_at_steps_with_rings_on_paper():
    scale = CAMERA_SHAPE[0] / 365  # the page is at 1:4
    triangle = blurred(page(), shape_kernel(TRIANGLE, 55.0 / scale, 0.4))
    disc = blurred(page(), defocus_psf(55.0 / scale))
    fitting = Preprocessor(wiener_balance=0.01, aperture=True)
    kernel = fitting.blur_kernel(triangle, 8)
    assert kernel is not None and kernel.shape[0] < 0.2 * triangle.shape[0]
    assert fitting.blur_kernel(disc, 8) is None
    assert fitting.blur_kernel(triangle, 3) is None  # discs of 14-19 px leave no rings to fit
    assert fitting.blur_kernel(blurred(page(), shape_kernel(TRIANGLE, 190.0 / scale, 0.4)), 18) is None
    assert Preprocessor(wiener_balance=0.01).blur_kernel(triangle, 8) is None
    photograph = triangle.copy()
    photograph[:40] = np.random.default_rng(2).random((40, triangle.shape[1]))  # content up to the border
    assert fitting.blur_kernel(photograph, 8) is None
    with_kernel = fitting.inputs(triangle, 8, kernel=kernel)[0][..., -1]
    with_discs = fitting.inputs(triangle, 8)[0][..., -1]
    assert with_kernel.shape == with_discs.shape and not np.allclose(with_kernel, with_discs)
