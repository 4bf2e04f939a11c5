import dataclasses
import json
import re

import numpy as np
import pytest
import tifffile

from hdc import synthetic, text
from hdc.dataset import parse_name
from hdc.validation import parse_steps


def test_text_rendering_is_deterministic_for_a_seed():
    first = synthetic.text_pair(4, "Times", np.random.default_rng(11), reduction=4)
    second = synthetic.text_pair(4, "Times", np.random.default_rng(11), reduction=4)
    assert first.lines == second.lines
    assert np.array_equal(first.blurred, second.blurred) and np.array_equal(first.sharp, second.sharp)


def test_random_lines_use_letters_digits_and_spaces():
    rng = np.random.default_rng(0)
    lines = [text.random_line(rng) for _ in range(400)]
    assert all(len(line) == 10 and line == line.rstrip() and line.strip() for line in lines)
    joined = "".join(lines)
    assert re.search(r"[0-9]", joined) and re.search(r"[a-z]", joined) and re.search(r"[A-Z]", joined)
    assert " " in joined


def test_text_sits_in_the_middle_of_the_frame_like_the_real_captures():
    rng = np.random.default_rng(2)
    layout = text.draw_layout("Verdana", rng, primary_only=True, jitter=False)
    scene = text.sample_scene(text.render_display(["eU UbRKHCM", "bSWDCGEVwc", "jxBYGTW Hk"], layout),
                              text.Geometry())
    ink = scene < 0.5
    rows, columns = np.nonzero(ink)
    # the real sharp capture of this text (step 15, sample 0100) spans rows 380-1209, columns 314-2069
    assert abs(rows.min() - 380) < 60 and abs(rows.max() - 1209) < 60
    assert abs(columns.min() - 314) < 60 and abs(columns.max() - 2069) < 60


def test_the_varied_font_pool_adds_glyph_shapes_to_the_wide_pool_draws():
    """Pool "varied" draws what "wide" draws and then each text's stroke weight, stretch and slant within
    `text.GLYPH_VARIATION`; the look-alikes' and the wide pool's layouts keep their glyphs."""
    wide = text.draw_layout("Verdana", np.random.default_rng(5), pool="wide")
    varied = text.draw_layout("Verdana", np.random.default_rng(5), pool="varied")
    assert not wide.varied and varied.varied
    assert varied == dataclasses.replace(wide, weight=varied.weight, stretch=varied.stretch, slant=varied.slant)
    assert all(low <= getattr(varied, name) <= high for name, (low, high) in text.GLYPH_VARIATION.items())
    assert not text.draw_layout("Times", np.random.default_rng(5), primary_only=True, pool="varied").varied


def test_glyph_variation_changes_weight_width_and_slant_as_drawn():
    """Against the supersampled rendering without variation (the same as the plain one up to a pixel's edge):
    a positive weight adds ink, a negative one removes it, a stretch widens the lines about the display's centre,
    a positive slant moves the tops of the letters to the right of their feet."""
    layout = text.Layout(text.font_paths("Verdana", primary_only=True)[0], 32.5, 1.21)
    lines = ["HIlWMAVXTN", "IHlWMAVXTN", "NTXVAMWlIH"]

    def ink(**variation):
        supersampling = text.GLYPH_SUPERSAMPLING
        return 1 - text.vary_glyphs(text.draw_lines(lines, layout, text.DISPLAY_SHAPE, supersampling),
                                    dataclasses.replace(layout, **variation), supersampling)

    plain = ink()
    rendered = 1 - text.render_display(lines, layout)
    assert np.mean(plain != rendered) < 0.02 and plain.sum() == pytest.approx(rendered.sum(), rel=0.1)
    assert ink(weight=1.0).sum() > 1.2 * plain.sum() and ink(weight=-0.8).sum() < 0.8 * plain.sum()
    columns = [np.nonzero(image.any(0))[0] for image in (plain, ink(stretch=1.1))]
    assert np.ptp(columns[1]) / np.ptp(columns[0]) == pytest.approx(1.1, abs=0.02)

    def top_minus_feet(image):
        rows = np.nonzero(image.any(1))[0]
        top, feet = image[rows[0]:rows[0] + 8], image[rows[-1] - 8:rows[-1]]
        return np.nonzero(top)[1].mean() - np.nonzero(feet)[1].mean()

    assert top_minus_feet(ink(slant=0.1)) > top_minus_feet(plain) + 5


def test_generator_writes_the_official_layouts(tmp_path):
    assert synthetic.main([str(tmp_path / "train"), "--steps", "3", "--per-font", "1", "--seed", "5",
                           "--natural", "1", "--workers", "1"]) == 0
    files = sorted(p.relative_to(tmp_path / "train").as_posix() for p in (tmp_path / "train").rglob("*.*"))
    assert "step3/Times/CAM01/focusStep_3_timesR_size_30_sample_0001.tif" in files
    assert "step3/Verdana/CAM02/focusStep_3_verdanaRef_size_30_sample_0001.txt" in files
    assert "step3/Sanity/CAM02/focusStep_3_Image_astronaut.tif" in files
    pixels = tifffile.imread(tmp_path / "train" / "step3/Times/CAM02/focusStep_3_timesR_size_30_sample_0001.tif")
    assert pixels.dtype == np.uint16 and pixels.shape == (1460, 2360)
    truth = (tmp_path / "train" / "step3/Times/CAM01/focusStep_3_timesR_size_30_sample_0001.txt").read_text()
    assert len(truth.split("\n")) == 3 and not truth.endswith("\n")
    for path in (tmp_path / "train").rglob("*.tif"):
        assert parse_name(path.stem)[1] == 3

    assert synthetic.main([str(tmp_path / "test"), "--steps", "6", "--per-font", "1", "--layout", "test",
                           "--natural", "1", "--workers", "1"]) == 0
    names = sorted(p.relative_to(tmp_path / "test").as_posix() for p in (tmp_path / "test").rglob("*.*"))
    assert names == ["steps_5_to_9/CAM01_focused/focusStep_6_Image_camera.tif",
                     "steps_5_to_9/CAM01_focused/focusStep_6_timesR_size_30_sample_0001.tif",
                     "steps_5_to_9/CAM01_focused/focusStep_6_timesR_size_30_sample_0001.txt",
                     "steps_5_to_9/CAM01_focused/focusStep_6_verdanaRef_size_30_sample_0001.tif",
                     "steps_5_to_9/CAM01_focused/focusStep_6_verdanaRef_size_30_sample_0001.txt",
                     "steps_5_to_9/CAM02_blurred/focusStep_6_Image_camera.tif",
                     "steps_5_to_9/CAM02_blurred/focusStep_6_timesR_size_30_sample_0001.tif",
                     "steps_5_to_9/CAM02_blurred/focusStep_6_verdanaRef_size_30_sample_0001.tif"]


def test_generator_output_does_not_depend_on_workers(tmp_path):
    for workers in ("1", "2"):
        synthetic.main([str(tmp_path / workers), "--steps", "1", "--per-font", "1", "--seed", "8",
                        "--workers", workers])
    for path in (tmp_path / "1").rglob("*.tif"):
        twin = tmp_path / "2" / path.relative_to(tmp_path / "1")
        assert np.array_equal(tifffile.imread(path), tifffile.imread(twin))


@pytest.mark.parametrize("value", ["20", "a-b", "5-30", ""])
def test_bad_steps_are_rejected(value):
    with pytest.raises(ValueError, match="steps must"):
        parse_steps(value)


def test_the_unseen_sanity_set(tmp_path):
    from evaluation.run import natural_groups
    from hdc.dataset import find_samples
    from hdc.unseen import UNSEEN, unseen_image

    for name in UNSEEN:
        image = unseen_image(name)
        assert image.dtype == np.float32 and min(image.shape) >= 90 and 0 <= image.min() < image.max() <= 1
    assert synthetic.main([str(tmp_path / "unseen"), "--layout", "test", "--unseen", "--steps", "6",
                           "--per-font", "0", "--natural", "3", "--workers", "1"]) == 0
    samples = find_samples(tmp_path / "unseen")
    assert sorted(s.key for s in samples) == sorted(UNSEEN[:3]) and all(s.kind == "natural" for s in samples)
    assert {group: len(members) for group, members in natural_groups(samples).items()} == {"sanity-photographs": 3}


def test_the_tuning_images_are_in_no_other_set(tmp_path):
    from hdc.dataset import find_samples
    from hdc.unseen import TUNING, UNSEEN, dead_leaves, unseen_image

    assert not set(TUNING) & set(UNSEEN + synthetic.NATURAL_TRAIN + synthetic.NATURAL_TEST)
    for name in TUNING:
        image = unseen_image(name)
        assert image.dtype == np.float32 and min(image.shape) >= 90 and 0 <= image.min() < image.max() <= 1
    leaves = dead_leaves((200, 300), discs=3000, seed=5)
    assert len(np.unique(leaves)) > 100 and np.array_equal(leaves, dead_leaves((200, 300), discs=3000, seed=5))
    assert synthetic.main([str(tmp_path / "tune"), "--tuning", "--steps", "3", "--per-font", "0", "--natural", "2",
                           "--workers", "1"]) == 0
    samples = find_samples(tmp_path / "tune")
    assert sorted(s.key for s in samples) == sorted(TUNING[:2]) and all(s.kind == "natural" for s in samples)
    with pytest.raises(SystemExit):
        synthetic.main([str(tmp_path / "both"), "--tuning", "--unseen"])


def test_a_run_on_the_unseen_set_reports_its_sanity_per_kind(tmp_path):
    from evaluation import run

    assert synthetic.main([str(tmp_path / "unseen"), "--layout", "test", "--unseen", "--steps", "2",
                           "--per-font", "0", "--workers", "1"]) == 0
    assert run.main([str(tmp_path / "unseen"), str(tmp_path / "run"), "--method", "identity"]) == 0
    for group, count in (("sanity-photographs", 5), ("sanity-targets", 4)):
        report = json.loads((tmp_path / "run" / group / "sanity.json").read_text())
        assert report["2"]["count"] == count


def test_the_drawn_radius_is_replayed_at_any_resolution():
    """`drawn_radius` replays a written sample's draws at 1/16 of the resolution: the same radius as the full-size
    pair's, inside the step's range, for text and natural samples."""
    from hdc.physics import RADIUS_RANGE
    from hdc.synthetic import drawn_radius, sample_pair

    for step, kind, item in ((17, "Verdana", 3), (6, "natural", "moon")):
        radius = drawn_radius("test", 777, step, kind, item)
        assert radius == sample_pair("test", 777, step, kind, item, reduction=2).radius
        assert RADIUS_RANGE[step][0] <= radius <= RADIUS_RANGE[step][1]
    assert drawn_radius("test", 777, 17, "Verdana", 3) != drawn_radius("test", 777, 17, "Verdana", 4)


def test_a_font_shift_set_changes_the_font_and_nothing_else(tmp_path, capsys):
    """`--fonts` draws the text in other families with the same draws otherwise: same lines and radius, another
    picture; an unknown family or a malformed option is refused."""
    from hdc.synthetic import sample_pair

    families = {"Times": "P052", "Verdana": "URW Gothic"}
    lookalike = sample_pair("test", 5, 9, "Verdana", 1, reduction=8)
    shifted = sample_pair("test", 5, 9, "Verdana", 1, reduction=8, families=families)
    assert shifted.lines == lookalike.lines and shifted.radius == lookalike.radius
    assert np.abs(shifted.sharp - lookalike.sharp).max() > 0.1
    assert synthetic.main([str(tmp_path / "shift"), "--steps", "2", "--per-font", "1", "--layout", "test",
                           "--natural", "0", "--fonts", "P052,URW Gothic", "--workers", "1"]) == 0
    assert len(list((tmp_path / "shift").rglob("focusStep_2_timesR_size_30_sample_0001.tif"))) == 2
    assert synthetic.main([str(tmp_path / "none"), "--fonts", "P052,No Such Font"]) == 2
    assert "no font found for Verdana (No Such Font)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synthetic.main([str(tmp_path / "bad"), "--fonts", "P052"])


def test_a_camera_shift_set_changes_the_blurred_camera_and_nothing_else(tmp_path):
    """`--camera-shift` keeps the lines, the radius and the sharp capture and changes the blurred one."""
    from hdc.synthetic import sample_pair

    reference = sample_pair("test", 5, 9, "Times", 1, reduction=8)
    shifted = sample_pair("test", 5, 9, "Times", 1, reduction=8, camera_shift="tone")
    assert shifted.lines == reference.lines and shifted.radius == reference.radius
    np.testing.assert_array_equal(shifted.sharp, reference.sharp)
    assert np.abs(shifted.blurred - reference.blurred).max() > 0.1
    assert synthetic.main([str(tmp_path / "shift"), "--steps", "2", "--per-font", "1", "--layout", "test",
                           "--natural", "0", "--camera-shift", "field", "--workers", "1"]) == 0
    assert len(list((tmp_path / "shift").rglob("*.tif"))) == 4
