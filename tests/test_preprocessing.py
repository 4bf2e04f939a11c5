import numpy as np
import pytest
from conftest import text_like_image

from hdc.physics import NOMINAL_RADIUS, convolve_fft, defocus_psf
from hdc.preprocessing import (
    BackgroundFit,
    Preprocessor,
    background,
    border_mask,
    destripe,
    downscale,
    flatten_background,
    median_stack,
    prepare_natural_target,
    prepare_target,
    resize,
    stripe_offsets,
    wiener_deconvolve,
    working_shape,
)


def test_working_shape_of_the_real_size():
    assert working_shape((1460, 2360), 7) == (209, 337)
    assert working_shape((1460, 2360), 4) == (365, 590)


def test_downscale_keeps_the_mean_and_upscale_restores_the_shape():
    image = np.random.default_rng(0).random((140, 210)).astype(np.float32)
    small = downscale(image, 7)
    assert small.shape == (20, 30)
    assert small.mean() == pytest.approx(image.mean(), abs=1e-4)
    assert resize(small, image.shape, "bicubic").shape == image.shape


def test_border_mask_covers_about_forty_percent():
    mask = border_mask((209, 337))
    assert 0.3 < mask.mean() < 0.5
    assert mask[0, 0] and mask[-1, -1] and not mask[104, 168]


def test_background_fit_recovers_a_vignetted_surface_despite_text():
    shape = (120, 200)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    x = x / (shape[1] - 1) * 2 - 1
    y = y / (shape[0] - 1) * 2 - 1
    truth = 0.9 - 0.1 * x ** 2 - 0.05 * y ** 2 + 0.02 * x + 0.03 * np.hypot(x, y)
    image = truth.copy()
    image[40:80, 50:150] *= 0.3  # text in the middle
    image[0, 0:5] = 0.0  # a few outliers on the border
    fitted = BackgroundFit(shape)(image)
    assert np.abs(fitted - truth).max() < 0.01


def test_flattening_removes_vignetting():
    image = text_like_image((140, 236))
    flat, paper = flatten_background(image, BackgroundFit(image.shape))
    assert paper
    border = border_mask(image.shape)
    assert abs(flat[border].mean()) < 0.01
    assert flat[border].std() < 0.5 * image[border].std() / image[border].mean()
    assert flat[70, 118] < -0.4  # text stays dark


def natural_like_image(shape=(140, 236), dark_border=False):
    """A textured scene with content up to the frame's edge, or a bright object on a smooth dark border."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]]
    if dark_border:
        image = np.full(shape, 0.08) + 0.8 * np.exp(-((rows - 70) ** 2 + (columns - 118) ** 2) / 400.0)
    else:
        image = 0.5 + 0.3 * np.sin(columns / 5.0) * np.sin(rows / 7.0) + 0.1 * (columns > shape[1] // 3)
    return image.astype(np.float32)


def test_background_is_the_border_surface_only_where_the_border_is_paper():
    text = text_like_image((140, 236))
    fit = BackgroundFit(text.shape)
    level, paper = background(text, fit)
    assert paper and np.array_equal(level, fit(text))  # text: vignetting divided out
    for image in (natural_like_image(), natural_like_image(dark_border=True)):
        level, paper = background(image, BackgroundFit(image.shape))
        assert not paper
        assert np.allclose(level, 2 * image.mean())  # natural: one global gain, nothing extrapolated


def test_the_preprocessor_decides_paper_at_its_working_scale_as_its_inputs_do():
    preprocessor = Preprocessor(scale=7)
    text = resize(text_like_image((140, 236)), (980, 1652), "bicubic")  # full size: 140 x 236 at 1:7
    natural = resize(natural_like_image(), (980, 1652), "bicubic")
    assert preprocessor.paper_border(text) and preprocessor.inputs(text, 5)[1]
    assert not preprocessor.paper_border(natural) and not preprocessor.inputs(natural, 5)[1]


def test_background_fit_is_deterministic():
    image = text_like_image()
    assert np.array_equal(BackgroundFit(image.shape, seed=3)(image), BackgroundFit(image.shape, seed=3)(image))


def test_median_stack_order_and_shape():
    image = np.zeros((30, 40), np.float32)
    image[15, 20] = 1.0  # an isolated spike: kept by channel 0, removed by every median
    stack = median_stack(image)
    assert stack.shape == (30, 40, 5) and stack.dtype == np.float32
    assert stack[15, 20, 0] == 1.0 and np.all(stack[15, 20, 1:] == 0.0)
    wide = np.zeros((30, 40), np.float32)
    wide[13:18, 18:23] = 1.0  # a 5x5 square: 25 of 49 pixels at width 7 still win, 25 of 81 at width 9 do not
    values = median_stack(wide)[15, 20]
    assert list(values) == [1.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("width", [1, 3, 5, 9])
@pytest.mark.parametrize("budget", [2 ** 22, 500])
def test_median_filter_is_scipys_with_mirrored_borders(width, budget):
    """The partial-sort median equals SciPy's median filter (reflect mode) to the bit, also when the rows are
    taken in blocks (a small `budget`)."""
    from scipy import ndimage

    from hdc.preprocessing import median_filter

    image = np.random.default_rng(width).random((23, 31)).astype(np.float32)
    np.testing.assert_array_equal(median_filter(image, width, budget),
                                  ndimage.median_filter(image, size=width, mode="reflect"))
    with pytest.raises(ValueError, match="odd"):
        median_filter(image, 4)


def test_preprocessor_output():
    image = text_like_image((1460 // 5, 2360 // 5))
    prepared = Preprocessor(scale=7 / 5)(image, 5)
    assert prepared.shape == (209, 337, 5) and prepared.dtype == np.float32
    with_wiener = Preprocessor(scale=7 / 5, wiener_balance=0.01)(image, 5)
    assert with_wiener.shape == (209, 337, 6) and Preprocessor(wiener_balance=0.01).channels == 6
    np.testing.assert_array_equal(with_wiener[..., :5], prepared)
    with pytest.raises(ValueError, match="scale"):
        Preprocessor(scale=0)


def bars(shape=(120, 160), period=12):
    """Vertical dark bars in the central 60 % of white paper, as flattened text: paper 0, ink -0.8.

    (H, W) float32."""
    image = np.zeros(shape, np.float32)
    top, left = int(0.2 * shape[0]), int(0.2 * shape[1])
    image[top:-top, left:-left] = -0.8 * (np.arange(left, shape[1] - left) % period < period // 2)
    return image


def test_wiener_deconvolution_undoes_a_disc_blur():
    sharp = bars()
    blurred = convolve_fft(sharp, defocus_psf(4.0))
    restored = wiener_deconvolve(blurred, 4.0, 0.01)
    assert restored.shape == sharp.shape and restored.dtype == np.float32
    inner = (slice(24, -24), slice(32, -32))
    assert np.abs(restored - sharp)[inner].mean() < 0.7 * np.abs(blurred - sharp)[inner].mean()


def test_wiener_channel_uses_the_steps_radius_at_the_working_scale():
    """A step-9 blur (66 px at full size) is undone at 1:7 from a 1:2 image: the radius follows the camera."""
    sharp = bars((1460 // 2, 2360 // 2), period=84)
    blurred = np.clip(1.0 + convolve_fft(sharp, defocus_psf(NOMINAL_RADIUS[9] / 2)), 0, 1)
    shape = working_shape((1460, 2360), 7)
    right = Preprocessor(wiener_balance=0.01)(blurred, 9, shape)
    wrong = Preprocessor(wiener_balance=0.01)(blurred, 2, shape)
    target = resize(sharp, shape, "box")
    inner = (slice(50, -50), slice(75, -75))
    error = {name: float(np.abs(channel - target)[inner].mean())
             for name, channel in (("flat", right[..., 0]), ("right", right[..., 5]), ("wrong", wrong[..., 5]))}
    assert error["right"] < 0.7 * error["flat"] and error["right"] < 0.7 * error["wrong"], error


def test_target_is_almost_binary_with_white_corners():
    image = text_like_image((700, 1100))
    target = prepare_target(image, 5)
    assert target.shape == (140, 220)
    assert np.all(target[:10, :10] == 1.0) and np.all(target[-10:, -10:] == 1.0)
    extreme = np.mean((target < 0.05) | (target > 0.95))
    assert extreme > 0.95
    assert np.mean(target == 1.0) >= 0.7


def test_natural_target_is_flattened_like_the_input():
    """The target of a natural image is the sharp image brought to white as the output is, and the flattened
    input channel lives in the same space: for an unblurred image, target = 1 + input."""
    shape = (1460 // 5, 2360 // 5)
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]]
    scene = 0.6 + 0.3 * np.sin(columns / 9.0) * np.sin(rows / 13.0)
    vignetting = 1 - 0.3 * (((rows / shape[0]) - 0.5) ** 2 + ((columns / shape[1]) - 0.5) ** 2)
    image = (scene * vignetting * 0.8).astype(np.float32)
    target = prepare_natural_target(image, (209, 337))
    assert target.shape == (209, 337) and 0 <= target.min() and target.max() <= 1
    flat = Preprocessor(scale=7 / 5)(image, 0)[..., 0]
    assert np.abs(target - np.clip(1 + flat, 0, 1)).mean() < 0.01
    small = resize(image, (209, 337))
    assert np.corrcoef(target.ravel(), small.ravel())[0, 1] > 0.999  # tones kept: no surface divided in
    uniform = prepare_natural_target((0.7 * vignetting).astype(np.float32), (209, 337))
    assert np.abs(uniform - 1).max() < 0.02  # a plain background: the vignetting is divided out


def test_the_wiener_channel_follows_the_preprocessors_radii():
    """Radii are configuration: a table whose step 2 holds step 9's radius makes step 2's channel equal step 9's."""
    sharp = bars((1460 // 2, 2360 // 2), period=84)
    blurred = np.clip(1.0 + convolve_fft(sharp, defocus_psf(NOMINAL_RADIUS[9] / 2)), 0, 1)
    shape = working_shape((1460, 2360), 7)
    radii = list(NOMINAL_RADIUS)
    radii[2] = NOMINAL_RADIUS[9]
    moved = Preprocessor(wiener_balance=0.01, radii=radii)(blurred, 2, shape)
    np.testing.assert_array_equal(moved, Preprocessor(wiener_balance=0.01)(blurred, 9, shape))
    for wrong in (NOMINAL_RADIUS[:19], [0.0] * 20):
        with pytest.raises(ValueError, match="radii"):
            Preprocessor(radii=wrong)


def test_an_estimated_radius_replaces_the_steps_where_it_is_plausible():
    """radius_source "estimated": the image's own disc (58 full-size px, from a half-size frame) is the blur
    model at step 8 (one disc, or +-6 % around it with ranges); at step 4 (draws 17-32 px, below the radii
    whose rings show) it is implausible and the step's radius or range stays; at step 12 (draws 78-95 px) the
    radius is searched within the step's widened range; the nominal source keeps the step's."""
    from test_estimate import blurred_texture

    from hdc.physics import RADIUS_RANGE

    image = blurred_texture(29.0, shape=(730, 1180))
    estimated = Preprocessor(wiener_balance=0.01, radius_source="estimated")
    (found,) = estimated.blur_radii(image, 8)
    assert found == pytest.approx(58.0, rel=0.05)
    assert estimated.blur_radii(image, 4) == (NOMINAL_RADIUS[4],)
    ranged = Preprocessor(wiener_balance=0.01, radius_source="estimated", wiener_ranges=RADIUS_RANGE)
    spread = ranged.blur_radii(image, 8)
    assert len(spread) == 9 and spread[0] == pytest.approx(0.94 * found) and spread[-1] == pytest.approx(1.06 * found)
    assert ranged.blur_radii(image, 4) == tuple(np.linspace(*RADIUS_RANGE[4], 9))
    (searched,) = estimated.blur_radii(image, 12)
    assert RADIUS_RANGE[12][0] / 1.1 <= searched <= RADIUS_RANGE[12][1] * 1.1
    assert Preprocessor(wiener_balance=0.01).blur_radii(image, 8) == (NOMINAL_RADIUS[8],)
    with pytest.raises(ValueError, match="radius_source"):
        Preprocessor(radius_source="guess")


def test_the_spread_wiener_filter_of_one_radius_is_the_disc_filter():
    """For one radius it is scikit-image's Wiener filter on the image beside its mirror images (whose periodic
    repetition is continuous: the mirrored borders of the cosine transform)."""
    from skimage.restoration import wiener

    from hdc.preprocessing import spread_wiener_deconvolve

    blurred = convolve_fft(bars(), defocus_psf(4.0)).astype(np.float64)
    tall = np.concatenate([blurred, blurred[::-1]], axis=0)
    extension = np.concatenate([tall, tall[:, ::-1]], axis=1)
    reference = wiener(extension, defocus_psf(4.0), 0.01, clip=False)[:blurred.shape[0], :blurred.shape[1]]
    np.testing.assert_allclose(spread_wiener_deconvolve(blurred, [4.0], 0.01), reference, atol=1e-5)


def test_a_picture_that_fills_the_frame_gets_no_grid_from_the_wiener_filter():
    """A ramp from black at the left to white at the right, blurred with reflected borders: the filter's
    boundary is continuous, so the restored ramp stays within 0.02 of the sharp one away from the sides. The
    former padding by the PSF's size left a jump where the frame wraps around, and the filter rang from it
    over the whole frame (up to 0.5 here, a grid on photographs)."""
    from hdc.preprocessing import spread_wiener_deconvolve

    sharp = np.tile(np.linspace(-1.0, 0.0, 240, dtype=np.float32), (160, 1))
    blurred = convolve_fft(sharp, defocus_psf(9.0))
    restored = spread_wiener_deconvolve(blurred, [9.0], 0.01)
    inner = (slice(30, -30), slice(30, -30))
    assert np.abs(restored - sharp)[inner].max() < 0.02


def test_the_spread_channel_survives_a_wrong_radius():
    """A blur of 0.8 x the nominal radius: the disc's Wiener channel rings at its zero rings, the filter for the
    whole range (0.75-1.1 x) does not, and it stays closer to the sharp bars."""
    from hdc.physics import RADIUS_RANGE

    sharp = bars((1460 // 2, 2360 // 2), period=84)
    blurred = np.clip(1.0 + convolve_fft(sharp, defocus_psf(0.8 * NOMINAL_RADIUS[9] / 2)), 0, 1)
    shape = working_shape((1460, 2360), 7)
    ranges = [(0.75 * radius, 1.1 * radius) for radius in NOMINAL_RADIUS]
    disc = Preprocessor(wiener_balance=0.01)(blurred, 9, shape)[..., 5]
    spread = Preprocessor(wiener_balance=0.01, wiener_ranges=ranges)(blurred, 9, shape)[..., 5]
    target = resize(sharp, shape, "box")
    inner = (slice(50, -50), slice(75, -75))
    assert np.abs(spread - target)[inner].mean() < 0.8 * np.abs(disc - target)[inner].mean()
    with pytest.raises(ValueError, match="wiener_ranges"):
        Preprocessor(wiener_balance=0.01, wiener_ranges=RADIUS_RANGE[:3])


def enlarged(image, shape=(730, 1180)):
    """`image` brought to `shape` with pixel noise of 0.01, as a camera's frame has (H, W) float32."""
    return resize(image, shape, "bicubic") + np.random.default_rng(0).normal(0, 0.01, shape).astype(np.float32)


def banded(image, strength, seed=1):
    """`image` (H, W) plus offsets per row and per column of standard deviation `strength`, and those offsets."""
    rng = np.random.default_rng(seed)
    rows, columns = strength * rng.standard_normal(image.shape[0]), strength * rng.standard_normal(image.shape[1])
    return (image + rows[:, None] + columns[None, :]).astype(np.float32), rows, columns


def test_row_and_column_offsets_are_found_in_the_paper_margins_and_removed():
    clean = enlarged(text_like_image())
    image, rows, columns = banded(clean, 0.02)
    offsets, strength = stripe_offsets(image)
    assert strength > 6 and np.corrcoef(offsets, rows)[0, 1] > 0.95
    assert stripe_offsets(clean)[1] < 3 and stripe_offsets(clean.T)[1] < 3
    left = destripe(image) - clean
    assert np.std(left - left.mean()) < 0.25 * np.std(image - clean)
    assert destripe(clean) is clean  # nothing stands out of the noise: untouched


def test_the_preprocessor_destripes_paper_captures_only_and_only_when_asked():
    text, natural = banded(enlarged(text_like_image()), 0.02)[0], banded(enlarged(natural_like_image()), 0.02)[0]
    preprocessor = Preprocessor(destripe=True)
    assert Preprocessor().clean(text) is text
    assert preprocessor.clean(natural) is natural  # its margins are content, not paper
    cleaned = preprocessor.clean(text)
    assert cleaned is not text and np.abs(np.diff(cleaned[:, :100].mean(axis=1))).mean() < 0.5 * np.abs(
        np.diff(text[:, :100].mean(axis=1))).mean()
