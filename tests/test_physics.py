import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from hdc import physics


@pytest.mark.parametrize("radius,sides", [(0.0, 0), (3.0, 0), (7.5, 6), (20.0, 8), (12.0, 5)])
def test_psf_sums_to_one_and_is_odd_and_centred(radius, sides):
    psf = physics.defocus_psf(radius, sides=sides, rotation=0.3, edge=1.0)
    assert psf.shape[0] == psf.shape[1] and psf.shape[0] % 2 == 1
    assert psf.sum() == pytest.approx(1.0) and psf.min() >= 0
    centre = np.array(ndimage.center_of_mass(psf))
    assert np.allclose(centre, (psf.shape[0] - 1) / 2, atol=0.5)


@pytest.mark.parametrize("sides", [0, 6, 9])
def test_psf_has_the_expected_area_equivalent_radius(sides):
    radius = 25.0
    psf = physics.defocus_psf(radius, sides=sides, edge=1.0)
    area = (psf > psf.max() / 2).sum()
    assert np.sqrt(area / np.pi) == pytest.approx(radius, rel=0.03)


def test_rim_brightens_the_edge():
    psf = physics.defocus_psf(20.0, rim=0.3)
    centre = psf.shape[0] // 2
    assert psf[centre, centre + 17] > 1.2 * psf[centre, centre]


def test_fft_and_direct_convolution_agree():
    rng = np.random.default_rng(0)
    image = rng.random((37, 53)).astype(np.float32)
    psf = physics.defocus_psf(4.0, sides=7)
    direct = ndimage.convolve(image.astype(np.float64), psf, mode="reflect")
    np.testing.assert_allclose(physics.convolve_fft(image, psf), direct, atol=1e-5)


def test_blur_keeps_the_mean():
    rng = np.random.default_rng(1)
    image = np.pad(rng.random((60, 80)), 20, constant_values=0.5).astype(np.float32)
    blurred = physics.convolve_fft(image, physics.defocus_psf(6.0))
    assert blurred.mean() == pytest.approx(image.mean(), abs=2e-3)


def test_vignetting_is_one_at_the_centre_and_falls_off():
    surface = physics.vignetting((101, 201), strength=0.2)
    assert surface[50, 100] == pytest.approx(1.0)
    assert surface[0, 0] == pytest.approx(0.8, abs=1e-6)


def test_noise_level_and_quantization():
    rng = np.random.default_rng(2)
    flat = np.full((200, 200), 0.5, np.float32)
    noisy = physics.add_noise(flat, rng, read_sigma=0.02, shot_gain=0.0)
    assert noisy.std() == pytest.approx(0.02, rel=0.05)
    quantized = physics.quantize16(noisy)
    assert np.allclose(quantized * 65535, np.rint(quantized * 65535), atol=1e-3)


def test_capture_is_deterministic_for_a_seed():
    scene = np.ones((64, 96), np.float32)
    scene[20:40, 30:60] = 0.1
    camera = physics.draw_blurred_camera(5, np.random.default_rng(3))
    first = physics.capture(scene, camera, np.random.default_rng(4))
    second = physics.capture(scene, camera, np.random.default_rng(4))
    assert np.array_equal(first, second)


def test_radius_ranges_contain_the_nominal_radii_and_grow():
    for step, (low, high) in enumerate(physics.RADIUS_RANGE):
        assert low <= physics.NOMINAL_RADIUS[step] <= high
    assert all(np.diff(physics.NOMINAL_RADIUS) > 0)


def test_drawn_cameras_stay_in_their_ranges():
    rng = np.random.default_rng(5)
    for step in (0, 9, 19):
        camera = physics.draw_blurred_camera(step, rng)
        low, high = physics.RADIUS_RANGE[step]
        area_radius = np.sqrt((camera.psf > camera.psf.max() / 2).sum() / np.pi)
        assert 0.8 * low - 1 <= area_radius <= 1.2 * high + 1
        assert 0 <= camera.glare <= 0.85 and 0.8 <= camera.gain <= 0.97


def test_hotspot_peaks_at_its_centre_with_the_measured_falloff():
    spot = physics.hotspot((201, 201), amplitude=0.2, width=0.35, power=1.3)
    assert spot[100, 100] == pytest.approx(0.2)
    assert spot[100, 120] / spot[100, 100] == pytest.approx(0.61, abs=0.03)  # d = 0.2
    assert spot[100, 140] / spot[100, 100] == pytest.approx(0.31, abs=0.03)  # d = 0.4


def test_a_field_blur_is_the_psf_at_the_centre_and_wider_in_the_corners():
    """`convolve_field` equals the plain convolution at the frame's centre and the widened kernel's in its corners."""
    rng = np.random.default_rng(4)
    image = rng.random((81, 121)).astype(np.float32)
    psf = physics.defocus_psf(4.0)
    field = physics.convolve_field(image, psf, 0.5)
    np.testing.assert_allclose(field[40, 60], physics.convolve_fft(image, psf)[40, 60], rtol=1e-5)
    np.testing.assert_allclose(field[0, 0], physics.convolve_fft(image, physics.scaled_psf(psf, 1.5))[0, 0],
                               rtol=1e-5)
    assert physics.scaled_psf(psf, 1.5).shape[0] > psf.shape[0] and physics.scaled_psf(psf, 1.5).sum() == \
        pytest.approx(1.0)


@pytest.mark.parametrize("kind", physics.CAMERA_SHIFTS)
def test_each_camera_shift_changes_one_thing(kind):
    """A shifted camera keeps the drawn radius and changes only its kind's fields; its capture still lies in
    [0, 1]; an unknown kind is refused."""
    camera = physics.draw_blurred_camera(6, np.random.default_rng(3))
    shifted = physics.shift_camera(camera, kind, np.random.default_rng(8))
    changed = {name for name in ("psf", "gamma", "field", "read_sigma", "shot_gain", "contrast", "banding")
               if not np.array_equal(getattr(camera, name), getattr(shifted, name))}
    assert changed == {"aperture": {"psf"}, "tone": {"gamma"}, "noise": {"read_sigma", "shot_gain"},
                       "field": {"field"}, "annulus": {"psf"}, "curve": {"contrast"}, "banding": {"banding"}}[kind]
    assert shifted.radius == camera.radius and shifted.psf.sum() == pytest.approx(1.0)
    capture = physics.capture(np.full((40, 60), 0.5, np.float32), shifted, np.random.default_rng(0))
    assert 0.0 <= capture.min() and capture.max() <= 1.0
    with pytest.raises(ValueError, match="camera shift must be one of"):
        physics.shift_camera(camera, "lens flare", np.random.default_rng(8))


def test_a_display_encoded_response_brightens_the_dark():
    camera = physics.Camera(psf=np.ones((1, 1)), glare=0.0, gain=1.0, vignetting_strength=0.0,
                            vignetting_centre=(0, 0), vignetting_tilt=(0, 0), read_sigma=0.0, shot_gain=0.0)
    scene = np.full((8, 8), 0.25, np.float32)
    linear = physics.capture(scene, camera, np.random.default_rng(0))
    encoded = physics.capture(scene, dataclasses.replace(camera, gamma=0.5), np.random.default_rng(0))
    assert linear.mean() == pytest.approx(0.25, abs=1e-4) and encoded.mean() == pytest.approx(0.5, abs=1e-4)


def test_a_varied_camera_keeps_the_radius_and_draws_every_change():
    """Over many draws `vary_camera` changes the aperture, the noise, the response and the field, each only
    sometimes, and never the drawn radius."""
    cameras = [physics.vary_camera(physics.draw_blurred_camera(8, np.random.default_rng(seed)),
                                   np.random.default_rng(100 + seed)) for seed in range(60)]
    drawn = [physics.draw_blurred_camera(8, np.random.default_rng(seed)) for seed in range(60)]
    for name, changed in (("psf", lambda a, b: a.psf.shape != b.psf.shape or not np.array_equal(a.psf, b.psf)),
                          ("read_sigma", lambda a, b: a.read_sigma != b.read_sigma),
                          ("gamma", lambda a, b: a.gamma != 1.0), ("field", lambda a, b: a.field != 0.0)):
        share = np.mean([changed(camera, original) for camera, original in zip(cameras, drawn)])
        assert 0.1 < share < 0.7, name
    assert all(camera.radius == original.radius for camera, original in zip(cameras, drawn))


def test_a_noisy_camera_changes_only_the_noise_and_scales_both_of_its_parts_alike():
    """`noisy_camera` leaves about half the cameras as they are and scales the others' read and shot noise by one
    factor in 1..3; nothing else changes."""
    drawn = [physics.draw_blurred_camera(8, np.random.default_rng(seed)) for seed in range(60)]
    noisy = [physics.noisy_camera(camera, np.random.default_rng(100 + seed)) for seed, camera in enumerate(drawn)]
    factors = np.array([camera.read_sigma / original.read_sigma for camera, original in zip(noisy, drawn)])
    assert 0.3 < np.mean(factors > 1) < 0.7 and factors.min() >= 1 and factors.max() <= 3
    for camera, original, factor in zip(noisy, drawn, factors):
        assert camera.shot_gain == pytest.approx(factor * original.shot_gain)
        assert camera == dataclasses.replace(original, read_sigma=camera.read_sigma, shot_gain=camera.shot_gain)


def test_the_held_out_shifts_look_as_described():
    """A ring has no light at its centre and its outer edge at the radius; the S-curve keeps 0, 0.5 and 1 and
    steepens the middle; banding adds the same offset along a row."""
    ring = physics.ring_psf(20.0, 0.5)
    centre = ring.shape[0] // 2
    assert ring[centre, centre] < 1e-3 * ring.max() and ring[centre, centre + 15] > 0.5 * ring.max()
    assert ring[centre, centre + 25] < 1e-3 * ring.max()
    np.testing.assert_allclose(physics.s_curve(np.array([0.0, 0.5, 1.0]), 6.0), [0.0, 0.5, 1.0], atol=1e-6)
    assert physics.s_curve(np.array([0.6]), 6.0)[0] > 0.65
    camera = physics.Camera(psf=np.ones((1, 1)), glare=0.0, gain=1.0, vignetting_strength=0.0,
                            vignetting_centre=(0, 0), vignetting_tilt=(0, 0), read_sigma=0.0, shot_gain=0.0,
                            banding=0.01)
    banded = physics.capture(np.full((30, 40), 0.5, np.float32), camera, np.random.default_rng(0))
    assert np.ptp(banded - banded[:, :1] - banded[:1, :] + banded[0, 0]) < 1e-4 < np.ptp(banded)
