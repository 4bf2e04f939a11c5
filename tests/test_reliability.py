"""The reliability matrix: every bad input and fault of main.py and the evaluation CLIs, each case asserting
the exit code, the message and what is on disk (outputs complete, inputs untouched, no temporary left)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from conftest import text_like_image
from PIL import Image

import main as entry

ROOT = Path(__file__).resolve().parent.parent
GOOD = "focusStep_5_timesR_size_30_sample_0001"


def run_main(capsys, *argv):
    code = entry.main([str(a) for a in argv] + ["--quiet"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err.splitlines()


def page(seed=0):
    return text_like_image(seed=seed)


def write_float(path, image):
    tifffile.imwrite(path, image.astype(np.float32))


def write_compressed(path, bits, compression, **arguments):
    pixels = np.rint(page() * (2 ** bits - 1)).astype(np.uint8 if bits == 8 else np.uint16)
    tifffile.imwrite(path, pixels, compression=compression, **arguments)


def write_pages(path, count):
    tifffile.imwrite(path, np.stack([np.rint(page(seed) * 65535).astype(np.uint16) for seed in range(count)]),
                     photometric="minisblack")  # one page per image, whatever the count


def broken_link(path):
    os.symlink(path.parent / "gone.tif", path)


def nan_pixel(path):
    image = page()
    image[10, 10] = np.nan
    write_float(path, image)


BAD_INPUTS = {  # name: (how to make it, the message after "error: NAME: ")
    "nan.tif": (nan_pixel, r"float image with 1 NaN or infinite pixel\(s\)"),
    "infinite.tif": (lambda path: write_float(path, np.where(page() > 0.5, np.inf, page())),
                     r"float image with \d+ NaN or infinite pixel\(s\)"),
    "range.tif": (lambda path: write_float(path, 2 * page()), r"float pixel values must lie in \[0, 1\], found"),
    "negative.tif": (lambda path: write_float(path, page() - 0.5), r"float pixel values must lie in \[0, 1\]"),
    "broken.tif": (broken_link, "broken symbolic link"),
    "two-pages.tif": (lambda path: write_pages(path, 2), "a TIFF of 2 pages; a capture is a single-page TIFF"),
    "three-pages.tif": (lambda path: write_pages(path, 3), "a TIFF of 3 pages; a capture is a single-page TIFF"),
    "five-pages.tif": (lambda path: write_pages(path, 5), "a TIFF of 5 pages; a capture is a single-page TIFF"),
    "empty.tif": (lambda path: path.write_bytes(b""), "empty file"),
    "truncated.tif": (lambda path: path.write_bytes(b"II*\x00" + b"\x00" * 20), "cannot read image"),
}

GOOD_INPUTS = {  # name: how to make it; each must be deblurred
    "float-in-range.tif": lambda path: write_float(path, page()),
    "float-rounding.tif": lambda path: write_float(path, np.minimum(page() * 1.2, 1.0005)),
    "lzw-8.tif": lambda path: write_compressed(path, 8, "lzw"),
    "lzw-16.tif": lambda path: write_compressed(path, 16, "lzw"),
    "deflate-8.tif": lambda path: write_compressed(path, 8, "zlib"),
    "deflate-16.tif": lambda path: write_compressed(path, 16, "zlib"),
    "jpeg-8.tif": lambda path: write_compressed(path, 8, "jpeg"),
    "jpeg-lossless-16.tif": lambda path: write_compressed(path, 16, "jpeg", compressionargs={"lossless": True}),
    "planar-rgb.tif": lambda path: tifffile.imwrite(path, np.stack([np.rint(page() * 255).astype(np.uint8)] * 3),
                                                    photometric="rgb", planarconfig="separate"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_a_bad_input_among_good_ones_is_named_and_the_rest_written(tmp_path, tiff_folder, random_weights, capsys,
                                                                    name):
    make, message = BAD_INPUTS[name]
    make(tiff_folder / name)
    before = {path.name: path.read_bytes() for path in tiff_folder.iterdir() if not path.is_symlink()}
    code, out, err = run_main(capsys, tiff_folder, tmp_path / "out", 5, "--weights", random_weights)
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"error: {name}: ")
    assert re.search(message, err[0]), err[0]
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == [f"{GOOD}.png", "focusStep_5_timesR_size_30_sample_0002.png"]  # no blank page for it
    assert "wrote 2 PNG(s)" in out and "1 failed" in out
    assert before == {path.name: path.read_bytes() for path in tiff_folder.iterdir() if not path.is_symlink()}


@pytest.mark.parametrize("name", sorted(GOOD_INPUTS))
def test_an_unusual_but_valid_input_is_deblurred(tmp_path, random_weights, capsys, name):
    folder = tmp_path / "in"
    folder.mkdir()
    GOOD_INPUTS[name](folder / name)
    code, out, err = run_main(capsys, folder, tmp_path / "out", 5, "--weights", random_weights)
    assert code == 0 and err == [], err
    with Image.open(tmp_path / "out" / name.replace(".tif", ".png")) as image:
        assert image.mode == "L" and image.size == (236, 146)


def test_stale_temporaries_of_a_killed_run_are_removed_and_only_those(tmp_path, tiff_folder, random_weights,
                                                                      capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".{GOOD}.png.{dead.stdout.strip()}.part"
    alive = out / f".other.png.{os.getpid()}.part"  # a running process's own
    unrelated = out / ".notes.part"
    for path in (stale, alive, unrelated):
        path.write_bytes(b"partial")
    code, _, err = run_main(capsys, tiff_folder, out, 5, "--weights", random_weights)
    assert code == 0, err
    assert not stale.exists() and alive.exists() and unrelated.exists()


@pytest.mark.parametrize("break_weights, message", [
    (lambda folder: (folder / "manifest.json").unlink(), "error: no weights manifest at"),
    (lambda folder: edit_manifest(folder, lambda entry: entry["architecture"].update(dim=4)),
     "error: cannot load weights .* into the manifest's article network 'tiny': "),
    (lambda folder: edit_manifest(folder, lambda entry: entry["architecture"].update(kind="transformer")),
     "error: model 'tiny' in the weights manifest is incomplete or invalid: unknown architecture kind"),
    (lambda folder: (folder / "tiny.weights.h5").write_bytes(b"junk"), "error: weights file .* is corrupt")])
def test_bad_weights_are_one_line_and_create_no_output_folder(tmp_path, tiff_folder, random_weights, capsys,
                                                              break_weights, message):
    weights = tmp_path / "weights"
    shutil.copytree(random_weights, weights)
    break_weights(weights)
    code, _, err = run_main(capsys, tiff_folder, tmp_path / "out", 5, "--weights", weights)
    assert code == 2 and len(err) == 1 and re.match(message, err[0]), err
    assert not (tmp_path / "out").exists()


def edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest["models"]["tiny"])
    (folder / "manifest.json").write_text(json.dumps(manifest))


# Signals: main.py as a subprocess on a folder of inputs, stopped at several moments.
MANY = 12
MANY_SHAPE = (438, 708)


@pytest.fixture(scope="module")
def many_inputs(tmp_path_factory):
    from hdc.io import write_tiff16

    folder = tmp_path_factory.mktemp("many")
    for index in range(MANY):
        write_tiff16(folder / f"focusStep_5_timesR_size_30_sample_{index + 1:04d}.tif",
                     text_like_image(MANY_SHAPE, seed=index))
    return folder


# main.py with Ctrl-C's default behaviour: a shell without job control starts background jobs (a CI runner's,
# say) with SIGINT ignored, and Python then never turns it into KeyboardInterrupt. Set in the child itself
# (no preexec_fn: the test process has threads).
WITH_INTERRUPT = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                  "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def start_main(inputs, out, weights):
    return subprocess.Popen([sys.executable, "-c", WITH_INTERRUPT, str(ROOT / "main.py"), str(inputs), str(out), "5",
                             "--quiet", "--weights", str(weights)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_pngs(out, count, process, limit=120):
    start = time.time()
    while time.time() - start < limit and process.poll() is None:
        if out.is_dir() and len(list(out.glob("*.png"))) >= count:
            return
        time.sleep(0.05)


def assert_complete(out):
    """Every PNG decodes whole and no temporary is left."""
    assert not list(out.glob(".*.part")), list(out.iterdir())
    for path in out.glob("*.png"):
        with Image.open(path) as image:
            image.load()
            assert image.size == MANY_SHAPE[::-1]


@pytest.mark.parametrize("signal_number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_and_leaves_only_complete_pngs(tmp_path, many_inputs, random_weights,
                                                                 signal_number, code):
    out = tmp_path / "out"
    process = start_main(many_inputs, out, random_weights)
    wait_for_pngs(out, 2, process)
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=120)
    written = len(list(out.glob("*.png")))
    assert process.returncode == code, err
    assert err.splitlines() == [f"interrupted: {written} of {MANY} written"]
    assert 2 <= written < MANY
    assert_complete(out)


@pytest.mark.parametrize("after_pngs", [0, 1, 3])
def test_a_killed_run_is_completed_by_the_next_one(tmp_path, many_inputs, random_weights, after_pngs):
    out = tmp_path / "out"
    process = start_main(many_inputs, out, random_weights)
    wait_for_pngs(out, after_pngs, process)
    if after_pngs == 0:
        time.sleep(3)  # while TensorFlow loads or the first image is written
    process.kill()
    process.communicate()
    for path in out.glob("*.png") if out.is_dir() else ():
        with Image.open(path) as image:
            image.load()  # never a partial PNG under the final name
    rerun = start_main(many_inputs, out, random_weights)
    stdout, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and err == "", err
    assert len(list(out.glob("*.png"))) == MANY
    assert_complete(out)


def test_a_failed_run_prints_only_its_error_line(tmp_path, many_inputs):
    """No absl or oneDNN line from TensorFlow's loading: stderr holds the one error."""
    process = start_main(many_inputs, tmp_path / "out", tmp_path / "no-weights")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2 and err.splitlines() == [f"error: no weights manifest at "
                                                             f"{tmp_path / 'no-weights' / 'manifest.json'}"]


# The evaluation CLIs.

def test_evaluate_scores_an_unreadable_png_zero_and_names_it(tmp_path):
    from evaluation.evaluate import main as evaluate_main
    from hdc.io import write_png

    truth, outputs = tmp_path / "truth", tmp_path / "outputs"
    truth.mkdir()
    outputs.mkdir()
    for sample in (1, 2):
        stem = f"focusStep_4_verdanaRef_size_30_sample_000{sample}"
        (truth / f"{stem}.txt").write_text("ABCDEFGHIJ\nKLMNOPQRST\nUVWXYZABCD")
        write_png(outputs / f"{stem}.png", page())
    (outputs / "focusStep_4_verdanaRef_size_30_sample_0002.png").write_bytes(b"")
    assert evaluate_main([str(outputs), str(truth), "--output", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    broken = [image for image in report["images"] if image["name"].endswith("0002.png")][0]
    assert broken["score"] == 0 and broken["problem"].startswith("unreadable output")
    assert report["steps"]["4"]["count"] == 2
    assert "0002.png (step 4): unreadable output" in (tmp_path / "report" / "results.md").read_text()


def test_run_reports_the_inputs_the_method_failed_on(tmp_path):
    from evaluation import run
    from hdc.io import write_tiff16

    test_set = tmp_path / "test" / "steps_0_to_4"
    for camera in ("CAM01_focused", "CAM02_blurred"):
        (test_set / camera).mkdir(parents=True)
    for sample in (1, 2):
        stem = f"focusStep_3_verdanaRef_size_30_sample_000{sample}"
        write_tiff16(test_set / "CAM01_focused" / f"{stem}.tif", page(sample))
        (test_set / "CAM01_focused" / f"{stem}.txt").write_text("ABCDEFGHIJ\nKLMNOPQRST\nUVWXYZABCD")
        write_tiff16(test_set / "CAM02_blurred" / f"{stem}.tif", page(sample))
    (test_set / "CAM02_blurred" / "focusStep_3_verdanaRef_size_30_sample_0002.tif").write_bytes(b"")
    assert run.main([str(tmp_path / "test"), str(tmp_path / "run"), "--method", "identity"]) == 0
    report = (tmp_path / "run" / "scores" / "results.md").read_text()
    assert "focusStep_3_verdanaRef_size_30_sample_0002.png (step 3): missing output: empty file" in report


@pytest.mark.parametrize("command", ["sweep", "real"])
def test_evaluation_clis_name_bad_weights_in_one_line(tmp_path, random_weights, command):
    from hdc.io import write_tiff16

    weights = tmp_path / "weights"
    shutil.copytree(random_weights, weights)
    edit_manifest(weights, lambda entry: entry["architecture"].update(dim=4))
    image = tmp_path / "real" / "CAM02" / "focusStep_3_verdanaRef_size_30_sample_0001.tif"
    image.parent.mkdir(parents=True)
    write_tiff16(image, page())
    arguments = {"sweep": [str(image), "3", str(tmp_path / "sweep.png")],
                 "real": [str(tmp_path / "real"), str(tmp_path / "out")]}[command]
    result = subprocess.run([sys.executable, "-m", f"evaluation.{command}", *arguments, "--weights", str(weights)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: cannot load weights")
