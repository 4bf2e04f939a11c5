"""The evaluation runner, baselines, sanity check and leaderboard on a tiny synthetic test set."""

import json
import shutil

import numpy as np
import pytest

from evaluation import baselines, leaderboard, run, sanity
from hdc import synthetic
from hdc.dataset import find_samples


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("testset")
    synthetic.main([str(root), "--steps", "1", "--per-font", "1", "--layout", "test", "--natural", "1",
                    "--workers", "2", "--seed", "3"])
    return root


def test_baselines_keep_shape_and_range():
    image = np.full((146, 236), 0.8, np.float32)
    image[60:80, 50:180] = 0.3
    for method in (baselines.identity, baselines.wiener):
        output = method(image, 4)
        assert output.shape == image.shape and output.min() >= 0 and output.max() <= 1
    assert baselines.identity(image, 0)[0, 0] == pytest.approx(1.0)


def test_wiener_sharpens_a_blurred_edge():
    from hdc.physics import NOMINAL_RADIUS, convolve_fft, defocus_psf

    image = np.ones((300, 400), np.float32)
    image[:, 200:] = 0.2
    blurred = convolve_fft(image, defocus_psf(NOMINAL_RADIUS[5]))
    restored = baselines.wiener(blurred, 5, balance=0.01)

    def width(row):
        """Pixels between 20 % and 80 % of the way from the row's dark level to its light one."""
        dark, light = np.percentile(row, 5), np.percentile(row, 95)
        return np.sum((row > dark + 0.2 * (light - dark)) & (row < light - 0.2 * (light - dark)))

    assert width(restored[150, 50:350]) < 0.5 * width(blurred[150, 50:350])
    # flat away from the edge: the frame's borders do not ring (they did while the filter wrapped them around)
    assert restored[150, 20:140].std() < 0.02 and restored[150, 260:380].std() < 0.02


def test_run_scores_and_sanity_with_the_identity_baseline(tmp_path, test_set, capsys):
    assert run.main([str(test_set), str(tmp_path / "identity"), "--method", "identity", "--steps", "1"]) == 0
    outputs = sorted(p.name for p in (tmp_path / "identity" / "outputs" / "step1").iterdir())
    assert outputs == ["focusStep_1_Image_camera.png", "focusStep_1_timesR_size_30_sample_0001.png",
                       "focusStep_1_verdanaRef_size_30_sample_0001.png"]
    results = json.loads((tmp_path / "identity" / "scores" / "results.json").read_text())
    assert set(results["steps"]) == {"1"} and len(results["images"]) == 2
    assert (tmp_path / "identity" / "scores" / "percentiles.png").is_file()
    checked = json.loads((tmp_path / "identity" / "sanity" / "sanity.json").read_text())
    assert checked["1"]["count"] == 1
    # a cached step is not run again
    marker = tmp_path / "identity" / "outputs" / "step1" / "focusStep_1_Image_camera.png"
    before = marker.stat().st_mtime_ns
    run.run_method(test_set, tmp_path / "identity", "identity", [1], progress=False)
    assert marker.stat().st_mtime_ns == before


def test_run_with_auto_passes_auto_as_the_step(tmp_path, test_set, random_weights, monkeypatch):
    commands, real_run = [], run.subprocess.run
    monkeypatch.setattr(run.subprocess, "run", lambda command, **options: commands.append(command) or
                        real_run(command, **options))
    run.run_method(test_set, tmp_path / "auto", "auto", [1], weights=random_weights, progress=False)
    assert commands[0][:2] == [run.sys.executable, str(run.ROOT / "main.py")] and commands[0][-1] == "auto"
    outputs = sorted(p.name for p in (tmp_path / "auto" / "outputs" / "step1").iterdir())
    assert len(outputs) == 3 and all(name.endswith(".png") for name in outputs)


def test_sanity_check_flags_an_algorithm_that_draws_text(tmp_path, test_set):
    from hdc.io import read_image, write_png

    natural = [s for s in find_samples(test_set) if s.kind == "natural"]
    honest, cheat = tmp_path / "honest", tmp_path / "cheat"
    honest.mkdir()
    cheat.mkdir()
    for sample in natural:
        write_png(honest / f"{sample.stem}.png", read_image(sample.sharp))
        write_png(cheat / f"{sample.stem}.png", np.ones_like(read_image(sample.sharp)))
    assert sanity.sanity_check(natural, honest, tmp_path / "r1")[1]["passed"]
    assert not sanity.sanity_check(natural, cheat, tmp_path / "r2")[1]["passed"]


def test_leaderboard_ranks_ours_with_the_published(tmp_path):
    for name, means in (("good", {0: 95, 1: 90, 2: 75}), ("bad", {0: 95, 1: 60, 2: 90})):
        folder = tmp_path / name / "scores"
        folder.mkdir(parents=True)
        folder.joinpath("results.json").write_text(json.dumps(
            {"steps": {str(k): {"mean": v} for k, v in means.items()}}))
    assert leaderboard.main([str(tmp_path / "bad"), str(tmp_path / "good"), "--output", str(tmp_path / "lb")]) == 0
    table = (tmp_path / "lb" / "leaderboard.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    names = [row.split("|")[2].strip() for row in rows]
    assert names.index("good") < names.index("bad")
    # the winners first; ours (stop steps 2 and 0) after 09_B, whose score at its stop step 2 is not published
    assert names[0].startswith("15_A") and "09_B" in names[-3]
    assert (tmp_path / "lb" / "leaderboard.png").is_file()
    # ours side by side at every step, in rank order, a step without a score left empty
    every = table[table.index("### Our runs at every step"):].splitlines()
    assert every[4].startswith("| good | 2 | 95.0 | 90.0 | 75.0 |  |")
    assert every[5].startswith("| bad | 0 | 95.0 | 60.0 | 90.0 |  |")
    # the rows are kept as run folders of their own, from which the same leaderboard is made again
    kept = tmp_path / "lb" / "runs"
    assert sorted(p.name for p in kept.iterdir()) == ["bad", "good"]
    assert leaderboard.main([str(kept / "bad"), str(kept / "good"), "--output", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "leaderboard.md").read_text() == table
    assert leaderboard.main([str(kept / "good"), "--output", str(tmp_path / "lb")]) == 0  # a kept row, in place
    assert leaderboard.main([str(tmp_path / "missing"), "--output", str(tmp_path / "lb")]) == 2


def test_leaderboard_pairs_each_run_with_the_reference_capture_by_capture(tmp_path):
    """Differences are taken over the captures both runs scored; a gap within two standard errors is a tie."""
    runs = {"wiener": {(0, "a"): 90, (0, "b"): 80, (0, "c"): 100, (1, "a"): 50, (1, "b"): 60, (1, "c"): 55},
            "network": {(0, "a"): 100, (0, "b"): 70, (0, "c"): 100, (0, "d"): 0,
                        (1, "a"): 90, (1, "b"): 95, (1, "c"): 92}}
    for name, scores in runs.items():
        folder = tmp_path / name / "scores"
        folder.mkdir(parents=True)
        steps = sorted({step for step, _ in scores})
        folder.joinpath("results.json").write_text(json.dumps({
            "steps": {str(step): {"mean": 80} for step in steps},
            "images": [{"step": step, "name": key, "score": score} for (step, key), score in scores.items()]}))
    network, wiener = (leaderboard.read_run(tmp_path / name) for name in ("network", "wiener"))
    found = leaderboard.paired_differences(network, wiener)
    assert found[0] == (pytest.approx(0.0), pytest.approx(np.std([10, -10, 0], ddof=1) / np.sqrt(3)), 3)
    assert found[1][0] == pytest.approx(37.33, abs=0.01) and found[1][2] == 3
    assert leaderboard.main([str(tmp_path / "network"), str(tmp_path / "wiener"), "--no-published",
                             "--output", str(tmp_path / "lb")]) == 0
    table = (tmp_path / "lb" / "leaderboard.md").read_text()
    row = next(line for line in table[table.index("### Against wiener"):].splitlines() if line.startswith("| network"))
    assert row.startswith("| network | +0.0 ± 5.8 *tie* | +37.3 ± ")
    assert "*tie*" not in row.split("|")[3]
    # a set of steps 0-1 is tabled at those steps only, and without published entries says nothing of them
    assert "| method | stop step | 0 | 1 |\n" in table and "Published" not in table
    assert "### Against" not in leaderboard.paired_table([network], "wiener")
    # the official rule counts from step 0: a run without it shows no stop step
    assert leaderboard.stop_label({"source": "ours", "means": {4: 90.0}, "stop": -1}) == ""
    assert leaderboard.stop_label(network) == "1"


def test_evaluate_command_line(tmp_path, test_set, capsys):
    from evaluation.evaluate import main as evaluate_main
    from hdc.io import read_image, write_png

    outputs = tmp_path / "sharp"
    outputs.mkdir()
    for sample in find_samples(test_set):
        write_png(outputs / f"{sample.stem}.png", read_image(sample.sharp) / 0.9)
    assert evaluate_main([str(outputs), str(test_set), "--output", str(tmp_path / "report")]) == 0
    text = capsys.readouterr().out
    assert "| 1 | 2 |" in text and "step 1 passed" in text and "No stop step" in text  # a run without step 0
    assert evaluate_main([str(tmp_path / "nothing"), str(test_set)]) == 2


def test_real_capture_command_scores_named_images(tmp_path, test_set, capsys):
    from evaluation import real

    folder = tmp_path / "full" / "CAM02"
    folder.mkdir(parents=True)
    for sample in find_samples(test_set):
        shutil.copy(sample.blurred, folder / sample.blurred.name)
        if sample.text:
            shutil.copy(sample.text, folder / sample.text.name)
    (folder / "notes.png").write_bytes(b"not a capture")
    assert real.main([str(tmp_path / "full"), str(tmp_path / "out"), "--method", "identity"]) == 0
    report = (tmp_path / "out" / "real.md").read_text()
    assert report.count("focusStep_1_") == 2 and "notes" not in report
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "focusStep_1_timesR_size_30_sample_0001.png", "focusStep_1_verdanaRef_size_30_sample_0001.png"]


def test_step_sweep_figure(tmp_path, random_weights):
    from conftest import text_like_image

    from evaluation import sweep

    image = text_like_image((146, 236))
    outputs = sweep.sweep(image, random_weights, steps=range(3))
    assert sorted(outputs) == [0, 1, 2] and all(o.shape == image.shape for o in outputs.values())
    sweep.figure(image, outputs, 1, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_example_figures_of_text_and_of_a_natural_image(tmp_path, test_set):
    from evaluation import examples

    assert run.main([str(test_set), str(tmp_path / "identity"), "--method", "identity", "--steps", "1"]) == 0
    more = ["--more", str(test_set), str(tmp_path / "identity")]
    for options in ([], ["--natural", "camera"], ["--natural", "camera,camera"] + more):
        path = tmp_path / f"figure{len(options)}.png"
        assert examples.main([str(test_set), str(tmp_path / "identity"), str(path), "--steps", "1"] + options) == 0
        assert path.stat().st_size > 1000
    assert examples.main([str(test_set), str(tmp_path / "identity"), str(tmp_path / "none.png"), "--steps", "1",
                          "--natural", "nowhere"]) == 2


def test_benchmark_stages_and_precisions_run(tmp_path, random_weights):
    """The benchmark's stage timing and precision comparison run on the inference API (no timing is asserted)."""
    from conftest import text_like_image

    from evaluation import benchmark
    from hdc.inference import Deblurrer
    from hdc.io import write_tiff16
    from hdc.postprocessing import Consistency
    from hdc.weights import model_spec

    files = []
    for index in range(2):
        files.append(tmp_path / f"image_{index}.tif")
        write_tiff16(files[-1], text_like_image((292, 472), seed=index))
    spec = model_spec(random_weights, 5)
    stages = benchmark.stage_times(files, Deblurrer(spec, consistency=Consistency(0.03, 0.5)), 5, repeats=1)
    assert {"model", "upscale (finish, without data consistency)", "finish with data consistency",
            "background fit"} <= set(stages) and all(t > 0 for t in stages.values())
    per_image = Deblurrer(spec, consistency=Consistency(0.03, 0.5))
    per_image.preprocessor.radius_source = "estimated"  # the estimate is timed as a stage of its own
    per_image.preprocessor.destripe = per_image.preprocessor.aperture = True  # so are these
    stages = benchmark.stage_times(files, per_image, 5, repeats=1)
    assert {"radius estimate (radius_source estimated)", "banding check (destripe)",
            "aperture fit (aperture, spectra shared)"} <= set(stages) and all(t > 0 for t in stages.values())
    precision = benchmark.precision_comparison(files, spec, 5, repeats=1)
    assert precision["mean output difference, bf16 vs float32 (of 1)"] < 0.05


def test_corner_probe_reads_the_darkest_corner_and_runs_on_a_test_set(test_set, random_weights, capsys):
    from evaluation import corners

    output = np.ones((60, 80), np.float32)
    output[30, 40] = 0.0  # the middle is not a corner
    assert corners.corner_minimum(output) == 1.0
    output[58, 2] = 0.4
    assert corners.corner_minimum(output) == pytest.approx(0.4)
    paper_and_ink = np.array([[[0.0, -1.0]]], np.float32)
    np.testing.assert_allclose(corners.lifted(paper_and_ink, 0.05), [[[0.05, -1.0]]], atol=1e-6)
    paper = np.zeros((20, 30, 1), np.float32)
    darkened = corners.lifted(paper, -0.035, patch=4)[..., 0]
    assert np.allclose(darkened[:4, :4], -0.035) and np.allclose(darkened[-4:, -4:], -0.035)
    assert np.allclose(darkened[4:-4, :], 0.0) and np.allclose(darkened[:, 4:-4], 0.0)  # only the corners
    assert corners.main([str(test_set), "--weights", str(random_weights), "--step", "1", "--count", "2"]) == 0
    table = capsys.readouterr().out
    assert "| +0.05 |" in table and table.count("| 2 |") == 3
    assert corners.main([str(test_set), "--weights", str(random_weights), "--step", "1", "--count", "1",
                         "--lifts=0,-0.035", "--patch", "8"]) == 0
    assert "| -0.035 |" in capsys.readouterr().out
    assert corners.main([str(test_set), "--weights", str(random_weights), "--step", "7"]) == 2
    assert "no text captures of step 7" in capsys.readouterr().err
