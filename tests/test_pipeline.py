"""The overlapped read / deblur / write pipeline."""

import numpy as np
from conftest import text_like_image
from PIL import Image

from hdc.io import write_tiff16
from hdc.pipeline import deblur_files


def make_inputs(folder, count, shape=(146, 236)):
    folder.mkdir()
    for index in range(count):
        write_tiff16(folder / f"image_{index:02d}.tif", text_like_image(shape, seed=index))
    return sorted(folder.iterdir())


def test_the_network_is_traced_once_per_run(tmp_path, random_weights):
    from hdc.inference import load_deblurrer

    files = make_inputs(tmp_path / "in", 5)
    deblurrer = load_deblurrer(3, random_weights)
    (tmp_path / "out").mkdir()
    written, failures = deblur_files(files, tmp_path / "out", 3, deblurrer, progress=False)
    assert (written, failures) == (5, [])
    assert deblurrer.traces == 1


def test_pipeline_matches_the_plain_call_and_keeps_names(tmp_path, random_weights):
    from hdc.inference import load_deblurrer

    files = make_inputs(tmp_path / "in", 4)
    deblurrer = load_deblurrer(8, random_weights)
    (tmp_path / "out").mkdir()
    deblur_files(files, tmp_path / "out", 8, deblurrer, progress=False)
    from hdc.io import read_image, to_uint8

    for path in files:
        with Image.open(tmp_path / "out" / f"{path.stem}.png") as written:
            expected = to_uint8(deblurrer(read_image(path), 8))
            assert np.array_equal(np.asarray(written), expected)


def test_auto_deblurs_each_image_as_its_chosen_step_does(tmp_path):
    """`AutoDeblurrer` writes, for each image, what the deblurrer of the step it chose writes (with per-image
    radii from the estimate's own spectra), and the pipeline announces each estimate in file order."""
    from test_estimate import blurred_texture, unsure_photograph

    from hdc.architecture import ArticleArchitecture
    from hdc.estimate import deblurring_step, estimate
    from hdc.inference import AutoDeblurrer, StepDeblurrers
    from hdc.io import read_image, to_uint8
    from hdc.model import build_model
    from hdc.weights import export_model

    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=3, channels=6)
    export_model(build_model(architecture), tmp_path / "weights", "tiny", 7, (3, 5, 7, 9), architecture,
                 wiener_balance=0.01, radius_source="estimated")
    (tmp_path / "in").mkdir()
    images = {"a.tif": blurred_texture(90.0), "b.tif": unsure_photograph(), "c.tif": blurred_texture(37.0)}
    for name, image in images.items():
        write_tiff16(tmp_path / "in" / name, image)
    deblurrers = StepDeblurrers(tmp_path / "weights")
    announced = []
    (tmp_path / "out").mkdir()
    written, failures = deblur_files(sorted((tmp_path / "in").iterdir()), tmp_path / "out", None,
                                     AutoDeblurrer(deblurrers), progress=False,
                                     announce=lambda name, prepared: announced.append((name, prepared.step)))
    assert (written, failures) == (3, []) and [name for name, _ in announced] == sorted(images)
    assert [step for _, step in announced] == [12, 0, 5]
    for name, step in announced:
        image = read_image(tmp_path / "in" / name)
        assert step == deblurring_step(estimate(image), deblurrers(0).preprocessor.paper_border(image))
        with Image.open(tmp_path / "out" / name.replace(".tif", ".png")) as png:
            assert np.array_equal(np.asarray(png), to_uint8(deblurrers(step)(image, step)))


def test_plain_callables_and_bad_files(tmp_path):
    files = make_inputs(tmp_path / "in", 3)
    files[1].write_bytes(b"broken")
    (tmp_path / "out").mkdir()
    written, failures = deblur_files(files, tmp_path / "out", 0, lambda image, step: 1 - image, progress=False)
    assert written == 2 and [name for name, _ in failures] == ["image_01.tif"]
    with Image.open(tmp_path / "out" / "image_00.png") as image:
        assert np.asarray(image).mean() < 128


def test_blas_runs_single_threaded_during_a_run_only(tmp_path):
    """The stages keep the cores busy; BLAS's own threads would wait on them. One BLAS thread during a run, the
    default again after it, and BLAS's own count with `blas_threads=None`."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before, seen = blas_threads(), []

    def method(image, step):
        seen.append(blas_threads())
        return image

    files = make_inputs(tmp_path / "in", 2)
    (tmp_path / "out").mkdir()
    deblur_files(files, tmp_path / "out", 0, method, progress=False)
    assert seen and all(threads == [1] * len(before) for threads in seen) and blas_threads() == before
    seen.clear()
    deblur_files(files, tmp_path / "out", 0, method, progress=False, blas_threads=None)
    assert all(threads == before for threads in seen)


def test_a_write_failure_is_reported_not_raised(tmp_path, monkeypatch):
    import hdc.pipeline

    files = make_inputs(tmp_path / "in", 3)
    (tmp_path / "out").mkdir()
    real_write = hdc.pipeline.write_png

    def flaky(path, image):
        if path.name == "image_01.png":
            raise OSError(28, "No space left on device")
        real_write(path, image)

    monkeypatch.setattr(hdc.pipeline, "write_png", flaky)
    written, failures = deblur_files(files, tmp_path / "out", 0, lambda image, step: image, progress=False)
    assert written == 2 and failures == [("image_01.tif", "cannot write image_01.png: No space left on device")]



def test_precision_auto_follows_the_cpu(tmp_path, monkeypatch):
    from hdc import inference

    flags = tmp_path / "cpuinfo"
    flags.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert not inference.native_bfloat16(flags)
    flags.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    assert inference.native_bfloat16(flags) and not inference.native_bfloat16(tmp_path / "missing")
    monkeypatch.setattr(inference, "native_bfloat16", lambda: True)
    assert inference.resolve_precision("auto") == "mixed_bfloat16"
    assert inference.resolve_precision("float32") == "float32"
    monkeypatch.setattr(inference, "native_bfloat16", lambda: False)
    assert inference.resolve_precision("auto") == "float32"


def test_bfloat16_stays_close_to_float32(random_weights):
    from hdc.inference import load_deblurrer

    image = text_like_image((1460 // 4, 2360 // 4))
    full, mixed = load_deblurrer(6, random_weights, "float32"), load_deblurrer(6, random_weights, "mixed_bfloat16")
    prepared = full.prepare(image, 6)
    difference = np.abs(full.infer(prepared, 6).output - mixed.infer(prepared, 6).output)
    assert difference.mean() < 0.01 and difference.max() < 0.2


def test_the_output_is_scaled_as_its_input_was(random_weights):
    """Paper is brought to white only where the input's border was paper; a natural image keeps its tones."""
    from hdc.inference import Deblurrer, Result
    from hdc.weights import model_spec

    deblurrer = Deblurrer(model_spec(random_weights, 5))
    rows, columns = np.mgrid[0:60, 0:100]
    grey_paper = (0.6 - 0.1 * ((columns - 50) / 50.0) ** 2).astype(np.float32)  # a vignetted, grey page
    white = deblurrer.finish(Result(grey_paper, True), (120, 200))
    assert abs(np.median(white) - 1) < 0.01
    scene = (0.3 + 0.2 * np.sin(columns / 4.0) * np.cos(rows / 6.0)).astype(np.float32)
    kept = deblurrer.finish(Result(scene, False), (60, 100))
    assert np.corrcoef(kept.ravel(), scene.ravel())[0, 1] > 0.999 and kept.max() <= 1


def test_the_paper_decision_follows_the_input(random_weights):
    from hdc.inference import Deblurrer
    from hdc.weights import model_spec

    deblurrer = Deblurrer(model_spec(random_weights, 5))
    assert deblurrer.prepare(text_like_image((730, 1180)), 5).paper
    rows, columns = np.mgrid[0:730, 0:1180]
    natural = (0.5 + 0.3 * np.sin(columns / 9.0) * np.sin(rows / 13.0)).astype(np.float32)
    assert not deblurrer.prepare(natural, 5).paper
