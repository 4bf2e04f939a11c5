"""main.py end to end on small generated TIFFs, and every bad-input case."""

import json

import numpy as np
import pytest
from conftest import text_like_image
from PIL import Image

import main as entry


def run(capsys, *argv):
    code = entry.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err
    return lines


def test_end_to_end_writes_one_png_per_tiff(tmp_path, tiff_folder, random_weights, capsys):
    (tiff_folder / "focusStep_5_PSF.TIFF").write_bytes((tiff_folder / "focusStep_5_timesR_size_30_sample_0001.tif")
                                                       .read_bytes())
    out = tmp_path / "out" / "nested"
    code, stdout, err = run(capsys, tiff_folder, out, 5, "--weights", random_weights)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["focusStep_5_PSF.png", "focusStep_5_timesR_size_30_sample_0001.png",
                     "focusStep_5_timesR_size_30_sample_0002.png"]
    for name in names:
        with Image.open(out / name) as image:
            assert image.mode == "L" and image.size == (236, 146)
    assert "wrote 3 PNG(s)" in stdout and "0 failed" in stdout and "s per image" in stdout


def test_same_input_gives_byte_identical_output(tmp_path, tiff_folder, random_weights, capsys):
    run(capsys, tiff_folder, tmp_path / "a", 3, "--weights", random_weights)
    run(capsys, tiff_folder, tmp_path / "b", 3, "--weights", random_weights)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_rgb_and_odd_sized_inputs(tmp_path, random_weights, capsys):
    import tifffile

    folder = tmp_path / "in"
    folder.mkdir()
    rgb = (np.dstack([text_like_image((99, 171))] * 3) * 255).astype(np.uint8)
    tifffile.imwrite(folder / "rgb.tif", rgb, photometric="rgb")
    code, _, err = run(capsys, folder, tmp_path / "out", 0, "--weights", random_weights)
    assert code == 0, err
    with Image.open(tmp_path / "out" / "rgb.png") as image:
        assert image.size == (171, 99)


def test_output_into_the_input_folder_never_touches_the_inputs(tiff_folder, random_weights, capsys):
    before = {p.name: p.read_bytes() for p in tiff_folder.iterdir()}
    code, _, _ = run(capsys, tiff_folder, tiff_folder, 2, "--weights", random_weights)
    assert code == 0
    for name, content in before.items():
        assert (tiff_folder / name).read_bytes() == content
    assert len(list(tiff_folder.glob("*.png"))) == 2


def test_a_corrupt_tiff_is_reported_and_the_others_processed(tmp_path, tiff_folder, random_weights, capsys):
    (tiff_folder / "broken.tif").write_bytes(b"II*\x00 this is not a tiff")
    (tiff_folder / "empty.tiff").write_bytes(b"")
    code, stdout, err = run(capsys, tiff_folder, tmp_path / "out", 4, "--weights", random_weights)
    assert code == 1
    errors = error_line(err)
    assert len(errors) == 2 and any("broken.tif" in e for e in errors) and any("empty.tiff" in e for e in errors)
    assert len(list((tmp_path / "out").glob("*.png"))) == 2
    assert "2 failed" in stdout


def test_auto_estimates_each_image_and_deblurs_it_at_its_step(tmp_path, random_weights, capsys):
    """`auto`: one line per image with its estimated step and the step it is deblurred at, each PNG written, an
    unreadable file named; a photograph estimated unsurely is deblurred at step 0."""
    from test_estimate import blurred_texture, unsure_photograph

    from hdc.io import write_tiff16

    folder = tmp_path / "in"
    folder.mkdir()
    write_tiff16(folder / "a.tif", blurred_texture(37.0))
    write_tiff16(folder / "b.tif", blurred_texture(90.0))
    (folder / "c.tif").write_bytes(b"")
    write_tiff16(folder / "d.tif", unsure_photograph())
    code, stdout, err = run(capsys, folder, tmp_path / "out", "auto", "--weights", random_weights, "--quiet")
    assert code == 1 and error_line(err) == ["error: c.tif: empty file"]
    lines = stdout.splitlines()
    assert lines[0].startswith("a.tif: step 5 (radius ") and lines[0].endswith(", deblurred at step 5")
    assert lines[1].startswith("b.tif: step 12 (radius ") and lines[1].endswith(", deblurred at step 12")
    assert lines[2].startswith("d.tif: step 0 (radius ") and lines[2].endswith(", deblurred at step 0")
    assert "confidence" in lines[0] and lines[3].startswith("auto (steps 0, 5, 12): wrote 3 PNG(s)")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "d.png"]
    with Image.open(tmp_path / "out" / "b.png") as image:
        assert image.size == (720, 480)


@pytest.mark.parametrize("step, shown", [("x", "'x'"), ("20", "20"), ("-1", "-1"), ("3.5", "'3.5'"),
                                         ("Auto", "'Auto'")])
def test_bad_step(tmp_path, tiff_folder, capsys, step, shown):
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", step)
    assert code == 2
    assert error_line(err) == [f"error: STEP must be an integer in 0..19 or auto, got {shown}"]


def test_missing_input_folder(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nowhere", tmp_path / "out", 1)
    assert code == 2 and "does not exist" in error_line(err)[0]


def test_input_folder_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, tmp_path / "file", tmp_path / "out", 1)
    assert code == 2 and "not a folder" in error_line(err)[0]


def test_unreadable_input_folder(tmp_path, tiff_folder, capsys, monkeypatch):
    import hdc.io

    def refuse(folder):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(hdc.io, "list_tiffs", refuse)
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1)
    assert code == 2 and "cannot be read: Permission denied" in error_line(err)[0]


def test_no_tiff_in_input(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.png").write_bytes(b"x")
    code, _, err = run(capsys, tmp_path / "in", tmp_path / "out", 1)
    assert code == 2 and "holds no .tif" in error_line(err)[0]


def test_output_not_writable(tmp_path, tiff_folder, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, tiff_folder, tmp_path / "file" / "out", 1)
    assert code == 2 and "OUTPUT_DIR" in error_line(err)[0] and "not writable" in error_line(err)[0]


def test_missing_weights(tmp_path, tiff_folder, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1, "--weights", tmp_path / "empty")
    assert code == 2 and "no weights manifest" in error_line(err)[0]


def copy_weights(source, destination):
    destination.mkdir()
    for path in source.iterdir():
        (destination / path.name).write_bytes(path.read_bytes())
    return destination


def test_corrupt_weights(tmp_path, tiff_folder, random_weights, capsys):
    weights = copy_weights(random_weights, tmp_path / "weights")
    blob = next(weights.glob("*.h5"))
    blob.write_bytes(blob.read_bytes()[:-100])
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1, "--weights", weights)
    assert code == 2 and "corrupt" in error_line(err)[0]


def test_missing_weights_file(tmp_path, tiff_folder, random_weights, capsys):
    weights = copy_weights(random_weights, tmp_path / "weights")
    next(weights.glob("*.h5")).unlink()
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1, "--weights", weights)
    assert code == 2 and "missing" in error_line(err)[0]


def test_step_not_in_manifest(tmp_path, tiff_folder, random_weights, capsys):
    weights = copy_weights(random_weights, tmp_path / "weights")
    manifest = json.loads((weights / "manifest.json").read_text())
    del manifest["steps"]["19"]
    (weights / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 19, "--weights", weights)
    assert code == 2 and "covers no model for step 19" in error_line(err)[0]
    assert run(capsys, tiff_folder, tmp_path / "out", 18, "--weights", weights)[0] == 0


def test_the_manifest_s_radii(tmp_path, tiff_folder, random_weights, capsys):
    """A model's radii come from its manifest entry (nominal when absent); a bad table is one error line."""
    from hdc.physics import NOMINAL_RADIUS
    from hdc.weights import model_spec

    weights = copy_weights(random_weights, tmp_path / "weights")
    assert model_spec(weights, 3).preprocessor().radii == NOMINAL_RADIUS
    manifest = json.loads((weights / "manifest.json").read_text())
    entry = next(iter(manifest["models"].values()))
    entry["radii"] = [2.0 * radius for radius in NOMINAL_RADIUS]
    (weights / "manifest.json").write_text(json.dumps(manifest))
    assert model_spec(weights, 3).preprocessor().radii[3] == 2.0 * NOMINAL_RADIUS[3]
    del entry["radii"]
    (weights / "manifest.json").write_text(json.dumps(manifest))
    assert model_spec(weights, 3).radii == NOMINAL_RADIUS
    entry["radius_source"] = "estimated"
    entry["wiener_ranges"] = [[0.9 * radius, 1.1 * radius] for radius in NOMINAL_RADIUS]
    (weights / "manifest.json").write_text(json.dumps(manifest))
    preprocessor = model_spec(weights, 3).preprocessor()
    assert preprocessor.radius_source == "estimated" and preprocessor.wiener_ranges[3] == (0.9 * 18, 1.1 * 18)
    assert run(capsys, tiff_folder, tmp_path / "out", 3, "--weights", weights)[0] == 0
    del entry["wiener_ranges"]
    entry["destripe"] = entry["aperture"] = True
    (weights / "manifest.json").write_text(json.dumps(manifest))
    spec = model_spec(weights, 3)
    assert spec.preprocessor().destripe and spec.preprocessor().aperture
    assert spec.to_entry()["destripe"] and spec.to_entry()["aperture"]
    name, good = next(iter(manifest["models"].items()))
    for key, value, message in (("radii", [1.0] * 5, "radii must be 20 positive radii"),
                                ("radius_source", "guess", "radius_source must be one of nominal, estimated"),
                                ("destripe", "yes", "destripe must be true or false"),
                                ("aperture", 1, "aperture must be true or false")):
        manifest["models"][name] = dict(good, **{key: value})
        (weights / "manifest.json").write_text(json.dumps(manifest))
        code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1, "--weights", weights)
        assert code == 2 and message in error_line(err)[0]


def test_manifest_not_json(tmp_path, tiff_folder, random_weights, capsys):
    weights = copy_weights(random_weights, tmp_path / "weights")
    (weights / "manifest.json").write_text("{not json")
    code, _, err = run(capsys, tiff_folder, tmp_path / "out", 1, "--weights", weights)
    assert code == 2 and "not valid JSON" in error_line(err)[0]


def test_command_line_exit_code_and_single_error_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, str(Path(entry.__file__)), str(tmp_path / "missing"),
                             str(tmp_path / "out"), "7"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: INPUT_DIR")


def test_shipped_weights_give_a_bright_left_margin_and_dark_text(tmp_path, capsys):
    from hdc import synthetic
    from hdc.dataset import find_samples

    synthetic.main([str(tmp_path / "data"), "--steps", "3", "--per-font", "1", "--workers", "1", "--seed", "9"])
    sample = find_samples(tmp_path / "data")[0]
    code, _, err = run(capsys, sample.blurred.parent, tmp_path / "out", 3)
    assert code == 0, err
    with Image.open(tmp_path / "out" / f"{sample.stem}.png") as image:
        pixels = np.asarray(image)
    assert pixels.shape == (1460, 2360) and pixels.dtype == np.uint8
    # the paper is the bright part (the scorer's white point comes from the left columns, never 0)
    assert pixels[:, :50].min() > 0 and np.median(pixels[:, :50]) >= 200
    assert np.percentile(pixels[500:1000, 500:1900], 1) < 80  # dark text in the middle


def test_the_manifest_s_data_consistency_and_no_consistency(tmp_path, tiff_folder, random_weights, capsys):
    import shutil

    from hdc.postprocessing import Consistency
    from hdc.weights import write_consistency

    folder = tmp_path / "weights"
    shutil.copytree(random_weights, folder)
    write_consistency(folder, {5: Consistency(0.03, 0.5)})
    outputs = {}
    for name, extra in (("plain", ["--weights", random_weights]), ("consistent", ["--weights", folder]),
                        ("switched off", ["--weights", folder, "--no-consistency"])):
        assert run(capsys, tiff_folder, tmp_path / name, 5, *extra)[0] == 0
        outputs[name] = (tmp_path / name / "focusStep_5_timesR_size_30_sample_0001.png").read_bytes()
    assert outputs["switched off"] == outputs["plain"] != outputs["consistent"]


def test_tiled_runs_write_the_same_pngs(tmp_path, tiff_folder, random_weights, capsys):
    run(capsys, tiff_folder, tmp_path / "whole", 5, "--weights", random_weights)
    code, _, err = run(capsys, tiff_folder, tmp_path / "tiled", 5, "--weights", random_weights, "--tile", "16")
    assert code == 0, err
    # The same up to float rounding (the convolutions' algorithms may differ between frame sizes): at most one grey
    # level. How many pixels round the other way is not bounded: the random network's nearly uniform output can
    # sit on a rounding boundary (0.3 % of the pixels on one CI run). tests/test_unet.py compares the floats.
    for path in (tmp_path / "whole").iterdir():
        whole = np.asarray(Image.open(path), np.int16)
        tiled = np.asarray(Image.open(tmp_path / "tiled" / path.name), np.int16)
        assert whole.shape == tiled.shape and np.abs(whole - tiled).max() <= 1
    code, _, err = run(capsys, tiff_folder, tmp_path / "bad", 5, "--tile", "4")
    assert code == 2 and error_line(err) == ["error: --tile must be at least 16 pixels, got 4"]
