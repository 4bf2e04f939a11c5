import numpy as np
import pytest
import tifffile
from PIL import Image

from hdc.io import ImageError, list_tiffs, read_image, to_gray_float, write_png, write_tiff16


def test_read_16bit_tiff_gives_float_in_unit_range(tmp_path):
    pixels = np.array([[0, 65535], [32768, 1000]] * 40, dtype=np.uint16).repeat(40, axis=1)
    tifffile.imwrite(tmp_path / "a.tif", pixels)
    image = read_image(tmp_path / "a.tif")
    assert image.dtype == np.float32 and image.shape == pixels.shape
    assert image.min() == 0.0 and image.max() == 1.0
    assert image[1, -1] == pytest.approx(1000 / 65535)


def test_read_8bit_and_rgb_tiffs(tmp_path):
    gray = np.full((80, 90), 51, np.uint8)
    tifffile.imwrite(tmp_path / "gray.tif", gray)
    rgb = np.zeros((80, 90, 3), np.uint8)
    rgb[..., 1] = 255
    tifffile.imwrite(tmp_path / "rgb.tiff", rgb, photometric="rgb")
    assert read_image(tmp_path / "gray.tif")[0, 0] == pytest.approx(0.2)
    assert read_image(tmp_path / "rgb.tiff")[0, 0] == pytest.approx(0.587, abs=1e-6)
    rgba = np.dstack([rgb, np.full((80, 90), 255, np.uint8)])
    assert to_gray_float(rgba)[0, 0] == pytest.approx(0.587, abs=1e-6)


@pytest.mark.parametrize("content", [b"", b"II*\x00garbage", b"not an image at all"])
def test_unreadable_files_raise_image_error(tmp_path, content):
    path = tmp_path / "bad.tif"
    path.write_bytes(content)
    with pytest.raises(ImageError, match="bad.tif"):
        read_image(path)


def test_truncated_tiff_raises_image_error(tmp_path):
    write_tiff16(tmp_path / "full.tif", np.random.default_rng(0).random((200, 300)))
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="cut.tif"):
        read_image(tmp_path / "cut.tif")


def test_tiny_image_is_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "tiny.tif", np.zeros((10, 10), np.uint16))
    with pytest.raises(ImageError, match="smaller than"):
        read_image(tmp_path / "tiny.tif")


def test_list_tiffs_matches_any_case_and_sorts(tmp_path):
    for name in ("b.TIF", "a.tif", "c.Tiff", "d.png", "e.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_tiffs(tmp_path)] == ["a.tif", "b.TIF", "c.Tiff"]


def test_write_png_is_8bit_gray_and_leaves_no_temporary(tmp_path):
    image = np.linspace(0, 1, 64 * 80, dtype=np.float32).reshape(64, 80)
    write_png(tmp_path / "out.png", image)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "L" and written.size == (80, 64)
        assert np.asarray(written)[-1, -1] == 255 and np.asarray(written)[0, 0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_interrupted_write_keeps_old_file_and_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    write_png(path, np.zeros((64, 64), np.float32))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        write_png(path, np.ones((64, 64), np.float32))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
