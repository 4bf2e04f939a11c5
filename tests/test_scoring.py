import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from evaluation.results import rank_key, step_summary, stop_step
from evaluation.scoring import clean_ocr_text, normalize, prepare_for_ocr, score_image, score_lines, similarity

TRUTH = ["VrkQCAeNBZ", "RcsijkFLTX", " GgceTmrxD"]


@pytest.mark.parametrize("method", ["levenshtein", "difflib"])
@pytest.mark.parametrize("ocr,expected", [
    ("RcsijkFLTX", 100),   # identical
    ("ResijkFLTX", 90),    # one substitution: (20 - 2) / 20
    ("RcsijkFLT", 95),     # one deletion: (19 - 1) / 19 = 94.7
    ("RcsijkFLTXY", 95),   # one insertion: (21 - 1) / 21 = 95.2
    ("", 0),               # empty
    ("zzzzzzzzzz", 0),     # nothing in common
])
def test_similarity_by_hand(method, ocr, expected):
    assert similarity("RcsijkFLTX", ocr, method) == expected


def test_similarity_rounds_half_to_even():
    # 9 + 7 characters, 2 deletions: 100 * 14 / 16 = 87.5 -> 88; 11 + 5, 6 deletions: 62.5 -> 62
    assert similarity("abcdefghi", "abcdefg") == 88
    assert similarity("abcdefghijk", "acegi") == 62


def test_difflib_option_differs_where_documented():
    assert similarity("abbcaba", "bbab") == 73
    assert similarity("abbcaba", "bbab", "difflib") == 36
    with pytest.raises(ValueError):
        similarity("a", "b", "hamming")


def test_only_three_lines_score():
    assert score_lines(["VrkQCAeNBZ", "ResijkFLTX", "GgceTmrxD"], TRUTH).score == 90
    assert score_lines(["VrkQCAeNBZ", "ResijkFLTX"], TRUTH).score == 0
    assert score_lines(["a", "RcsijkFLTX", "b", "c"], TRUTH).score == 0
    assert not score_lines(["x"], TRUTH).three_lines


def test_ocr_text_cleaning():
    assert clean_ocr_text("abc\n\ndef\n ghi \n\f") == ["abc", "def", "ghi"]
    assert clean_ocr_text("a\n\n\n\nb\n") == ["a", "b"]


def test_normalization_white_point_comes_from_the_left_columns():
    array = np.full((20, 100), 200, np.uint8)
    array[:, :50] = 120
    array[5, 70] = 20
    result = np.asarray(normalize(Image.fromarray(array)))
    assert result[0, 0] == int((120 - 20) * 255 / 120)
    assert result[0, 99] == 255 and result[5, 70] == 0


def test_a_black_pixel_in_the_left_strip_breaks_normalization():
    array = np.full((20, 100), 200, np.uint8)
    array[3:6, 60:90] = 30
    healthy = np.asarray(normalize(Image.fromarray(array)))
    array[10, 10] = 0
    broken = np.asarray(normalize(Image.fromarray(array)))
    assert healthy[4, 70] == 0 and healthy[0, 0] == int((200 - 30) * 255 / 200)  # the quirk: not 255
    assert broken[4, 70] == 255  # the text has vanished into white
    guarded = np.asarray(normalize(Image.fromarray(array), guard_white_point=True))
    assert guarded[4, 70] < 255


def test_prepare_for_ocr_halves_the_size():
    image = Image.fromarray(np.full((1460, 2360), 200, np.uint8))
    assert prepare_for_ocr(image).size == (1180, 730)


def rendered_page(lines, size=(2360, 1460)):
    from hdc.text import font_paths

    picture = Image.new("L", size, 230)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.truetype(font_paths("Verdana", primary_only=True)[0], 160)
    for index, line in enumerate(lines):
        draw.text((size[0] / 2, 400 + 300 * index), line, fill=20, font=font, anchor="mm")
    return picture


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="the tesseract binary is not installed")
def test_end_to_end_ocr_on_a_clean_rendered_image(tmp_path):
    lines = ["VrkQCAeNBZ", "Hab3dEFgh7", "GgceTmrxD"]
    rendered_page(lines).save(tmp_path / "page.png")
    (tmp_path / "page.txt").write_text("\n".join(lines))
    result = score_image(tmp_path / "page.png", tmp_path / "page.txt")
    assert result.three_lines and result.score == 100
    Image.new("L", (2360, 1460), 230).save(tmp_path / "blank.png")
    assert score_image(tmp_path / "blank.png", tmp_path / "page.txt").score == 0


def test_stop_rule():
    assert stop_step({0: 95, 1: 90, 2: 71, 3: 69, 4: 90}) == 2  # the pass at 4 after a failure does not count
    assert stop_step({0: 60, 1: 90}) == -1
    assert stop_step({0: 80, 2: 90}) == 0  # a missing step is a failure
    assert stop_step({step: 70.0 for step in range(20)}) == 19


def test_ranking_breaks_ties_at_the_steps_below():
    first = {0: 90, 1: 85, 2: 80, 3: 50}
    second = {0: 95, 1: 84, 2: 80, 3: 60}
    third = {0: 99, 1: 99, 2: 69}
    ranked = sorted([third, second, first], key=rank_key, reverse=True)
    assert ranked == [first, second, third]


def test_step_summary():
    records = [{"step": 1, "font": "Times", "score": 80}, {"step": 1, "font": "Verdana", "score": 60},
               {"step": 0, "font": "Times", "score": 100, "three_lines": False}]
    summary = step_summary(records)
    assert summary[1]["mean"] == 70 and summary[1]["passed"]
    assert summary[1]["fonts"] == {"Times": 80, "Verdana": 60}
    assert summary[0]["three_lines"] == 0
