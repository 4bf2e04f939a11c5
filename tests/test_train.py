"""Training on tiny synthetic data: the loss falls, resume is exact, the mirrored strategy runs."""

import json

import numpy as np
import pytest

from hdc.physics import NOMINAL_RADIUS
from hdc.train import cache as cache_module
from hdc.train.__main__ import main
from hdc.train.batches import split_indices, step_probabilities
from hdc.train.config import TrainingConfig, learning_rate_at
from hdc.train.loop import train

TINY = {"steps": [2, 9], "per_step": 6, "natural_fraction": 0.2, "reduction": 8, "crop": 40, "batch": 8,
        "log_every": 16, "validation_crops": 8, "validation_fraction": 0.2, "curriculum": 0,
        "mixed_precision": False, "architecture": {"dim": 8, "subdim": 8, "refinements": 2}}


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    config = TrainingConfig(**TINY)
    cache_module.build_synthetic(folder, config.steps, config.per_step, config.natural_fraction, config.seed,
                                 config.preprocessor(), config.reduction, workers=2, progress=False)
    return folder


def test_cache_holds_every_planned_sample(tiny_cache):
    cache = cache_module.Cache(tiny_cache)
    assert cache.count == cache.capacity == 12
    assert cache.inputs.shape == (12, 209, 337, 6) and cache.inputs.dtype == np.float16
    assert cache.info["wiener_balance"] == 0.01 and cache.info["radii"] == list(NOMINAL_RADIUS)
    assert sorted(set(cache.meta[:, 0])) == [2, 9] and 2 in set(cache.meta[:, 1])
    assert cache.targets.max() == 255


def test_a_cache_made_with_other_radii_is_refused(tiny_cache):
    config = TrainingConfig(**{**TINY, "radii": [radius + 1 for radius in NOMINAL_RADIUS]})
    cache = cache_module.Cache(tiny_cache)
    source = dict(cache.info["source"])
    cache.check(TrainingConfig(**TINY).preprocessor(), source)
    with pytest.raises(ValueError, match="other settings"):
        cache.check(config.preprocessor(), source)
    estimated = TrainingConfig(**{**TINY, "radius_source": "estimated"})
    with pytest.raises(ValueError, match="other settings"):
        cache.check(estimated.preprocessor(), source)


def test_radius_source_reaches_the_preprocessor_and_the_manifest(tmp_path):
    from hdc.model import build_model
    from hdc.train.__main__ import parse_arguments, resolve_config
    from hdc.weights import export_model, model_spec

    config = resolve_config(parse_arguments([str(tmp_path / "run"), "--radius-source", "estimated",
                                             "--wiener-ranges", "draws"]))
    assert config.preprocessor().radius_source == "estimated"
    with pytest.raises(SystemExit):
        parse_arguments([str(tmp_path / "run"), "--radius-source", "guess"])
    export_model(build_model(config.architecture), tmp_path / "weights", "synthetic", config.scale,
                 config.median_widths, config.architecture, config.wiener_balance, config.radii,
                 config.wiener_ranges, config.radius_source)
    assert model_spec(tmp_path / "weights", 17).preprocessor().radius_source == "estimated"


def test_a_tiny_model_learns(tmp_path, tiny_cache):
    config = TrainingConfig(**TINY, samples=320, learning_rate=0.01)
    train(tmp_path / "run", config, tiny_cache, progress=False)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[1]) for row in rows]
    assert losses[-1] < 0.8 * losses[0]
    assert (tmp_path / "run" / "weights" / "manifest.json").is_file() and (tmp_path / "run" / "loss.png").is_file()


TINY_UNET = {**TINY, "architecture": {"kind": "unet", "widths": [8, 16, 16], "embedding": 8}}


def test_a_tiny_unet_learns_and_resumes_exactly(tmp_path, tiny_cache):
    config = TrainingConfig(**TINY_UNET, samples=320, learning_rate=0.01)
    assert config.architecture.kind == "unet" and config.architecture.border == 0
    train(tmp_path / "run", config, tiny_cache, progress=False)
    losses = [float(row.split(",")[1]) for row in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert losses[-1] < 0.8 * losses[0]
    train(tmp_path / "split", TrainingConfig(**TINY_UNET, samples=160, learning_rate=0.01), tiny_cache,
          progress=False)
    train(tmp_path / "split", config, tiny_cache, resume=True, progress=False)
    for first, second in zip(final_weights(tmp_path / "run"), final_weights(tmp_path / "split")):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_a_unet_crop_must_fit_its_poolings():
    with pytest.raises(ValueError, match="crop must be a multiple of 4"):
        TrainingConfig(**{**TINY_UNET, "crop": 42})


def final_weights(run_dir):
    import keras

    from hdc.model import build_model
    from hdc.weights import model_spec

    spec = model_spec(run_dir / "weights", 2)
    model = build_model(spec.architecture)
    model.load_weights(spec.path)
    keras.backend.clear_session()
    return [w.copy() for w in model.get_weights()]


def test_resume_continues_exactly(tmp_path, tiny_cache):
    config = TrainingConfig(**TINY, samples=96)
    train(tmp_path / "straight", config, tiny_cache, progress=False)
    train(tmp_path / "split", TrainingConfig(**TINY, samples=48), tiny_cache, progress=False)
    train(tmp_path / "split", config, tiny_cache, resume=True, progress=False)
    for first, second in zip(final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_a_cache_refuses_other_preprocessing(tiny_cache):
    config = TrainingConfig(**{**TINY, "wiener_balance": 0.1})
    with pytest.raises(ValueError, match="other settings"):
        cache_module.build_synthetic(tiny_cache, config.steps, config.per_step, config.natural_fraction, config.seed,
                                     config.preprocessor(), config.reduction, progress=False)


def test_warm_start_from_a_release_with_fewer_channels_and_no_skip(tmp_path, tiny_cache):
    """A release without the Wiener channel and the skip path starts a run with both: the release's logit plus
    the image's, until training moves them."""
    import keras

    from hdc.architecture import ArticleArchitecture
    from hdc.model import build_model
    from hdc.train.trainer import Trainer
    from hdc.weights import export_model

    old = ArticleArchitecture(**{**TINY["architecture"], "channels": 5})
    released = build_model(old)
    export_model(released, tmp_path / "release", "old", 7, (3, 5, 7, 9), old)
    config = TrainingConfig(**{**TINY, "architecture": {**TINY["architecture"], "skip": True}},
                            init_from=str(tmp_path / "release"))
    trainer = Trainer(tmp_path / "run", config, cache_module.Cache(tiny_cache))
    trainer.warm_start(config.init_from)
    inputs = np.random.default_rng(0).normal(scale=0.3, size=(1, 48, 48, 6)).astype(np.float32)
    step = np.array([[4.0]], np.float32)
    logit = lambda p: np.log(p) - np.log1p(-p)
    b = old.border
    image = np.clip(inputs[0, b:-b, b:-b, :1] + 1.0, 0.01, 0.99)
    expected = 1.0 / (1.0 + np.exp(-(logit(released([inputs[..., :5], step]).numpy()[0]) + logit(image))))
    np.testing.assert_allclose(trainer.model([inputs, step]).numpy()[0], expected, atol=1e-4)
    with pytest.raises(ValueError, match="more than the article network.s input channels"):
        wider = {"dim": 4, "subdim": 8, "refinements": 2}
        Trainer(tmp_path / "other", TrainingConfig(**{**TINY, "architecture": wider}),
                cache_module.Cache(tiny_cache)).warm_start(config.init_from)
    keras.backend.clear_session()


def test_mirrored_strategy_runs_on_the_cpu(tmp_path, tiny_cache):
    loss, validation = train(tmp_path / "mirrored", TrainingConfig(**TINY, samples=32), tiny_cache,
                             strategy="mirrored", progress=False)
    assert np.isfinite(loss) and np.isfinite(validation)


def test_command_line_saves_and_validates_the_config(tmp_path, tiny_cache, capsys):
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    run = tmp_path / "cli"
    assert main([str(run), "--config", str(config_file), "--cache", str(tiny_cache), "--samples", "16",
                 "--quiet"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["samples"] == 16 and saved["architecture"]["dim"] == 8
    assert main([str(run), "--samples", "16", "--quiet"]) == 2  # the folder already holds a run
    assert main([str(run), "--resume", "--crop", "64", "--quiet"]) == 2  # resume keeps the data config
    assert main([str(tmp_path / "bad"), "--crop", "20", "--quiet"]) == 2
    assert "crop must exceed" in capsys.readouterr().err
    assert main([str(tmp_path / "cold"), "--config", str(config_file), "--init-from", str(tmp_path / "gone"),
                 "--quiet"]) == 2
    assert "init_from must be a release folder" in capsys.readouterr().err
    # a checkpoint makes the run's starting weights history: resuming it needs no init_from folder any more
    saved["init_from"] = str(tmp_path / "gone")
    (run / "config.json").write_text(json.dumps(saved))
    assert main([str(run), "--resume", "--samples", "32", "--quiet"]) == 0


def test_validation_split_is_by_sample():
    meta = np.array([[step, kind, sample] for step in range(3) for kind in range(2) for sample in range(50)])
    train_rows, validation_rows = split_indices(meta, 0.1, seed=0)
    assert len(set(train_rows) & set(validation_rows)) == 0 and len(train_rows) + len(validation_rows) == len(meta)
    assert 0.04 < len(validation_rows) / len(meta) < 0.2


def test_schedule_and_step_weights():
    config = TrainingConfig(decay_start=100, decay_half_life=50, curriculum=1000, step_weight=3.0)
    assert learning_rate_at(config, 100) == config.learning_rate
    assert learning_rate_at(config, 150) == pytest.approx(config.learning_rate / 2)
    probabilities = step_probabilities(np.array([0, 10, 19]), config, seen=0)
    assert probabilities[2] == 0 and probabilities[1] > probabilities[0] > 0
    probabilities = step_probabilities(np.array([0, 19]), config, seen=1000)
    assert probabilities[1] == pytest.approx(3 * probabilities[0])
    natural = TrainingConfig(natural_weight=4.0)
    probabilities = step_probabilities(np.array([5, 5, 5]), natural, seen=0, kinds_of_rows=np.array([0, 2, 1]))
    assert probabilities[1] == pytest.approx(4 * probabilities[0]) and probabilities[0] == probabilities[2]


def test_release_and_continue_from_it(tmp_path, tiny_cache):
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    assert main([str(tmp_path / "first"), "--config", str(config_file), "--cache", str(tiny_cache), "--samples", "32",
                 "--quiet", "--release", str(tmp_path / "released")]) == 0
    released = sorted(p.name for p in (tmp_path / "released").iterdir())
    assert released == ["checkpoint", "config.json", "log.csv", "loss.png", "manifest.json", "synthetic.weights.h5"]
    assert main([str(tmp_path / "second"), "--resume", "--from-release", str(tmp_path / "released"), "--cache",
                 str(tiny_cache), "--samples", "64", "--quiet"]) == 0
    rows = (tmp_path / "second" / "log.csv").read_text().splitlines()
    assert rows[-1].startswith("64,") and any(row.startswith("32,") for row in rows)


def test_a_checkpoint_newer_than_the_release_brings_its_own_config(tmp_path, tiny_cache):
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    assert main([str(tmp_path / "first"), "--config", str(config_file), "--cache", str(tiny_cache), "--samples", "32",
                 "--quiet", "--release", str(tmp_path / "released")]) == 0
    newer = json.loads((tmp_path / "released" / "config.json").read_text())
    newer["natural_weight"] = 3.0  # the run went on with another schedule after the release
    (tmp_path / "released" / "checkpoint" / "config.json").write_text(json.dumps(newer))
    (tmp_path / "released" / "checkpoint" / "loss.png").write_bytes(b"the newer plot")
    assert main([str(tmp_path / "second"), "--resume", "--from-release", str(tmp_path / "released"), "--cache",
                 str(tiny_cache), "--samples", "48", "--quiet"]) == 0
    assert json.loads((tmp_path / "second" / "config.json").read_text())["natural_weight"] == 3.0
    assert not (tmp_path / "second" / "checkpoints" / "loss.png").exists()


def test_a_cache_of_an_older_format_is_refused(tmp_path, tiny_cache):
    import shutil

    old = tmp_path / "old-cache"
    shutil.copytree(tiny_cache, old)
    info = json.loads((old / cache_module.INFO_NAME).read_text())
    del info["format"]  # as written before natural images were scaled by their mean
    (old / cache_module.INFO_NAME).write_text(json.dumps(info))
    config = TrainingConfig(**TINY)
    with pytest.raises(ValueError, match="other settings"):
        cache_module.build_synthetic(old, config.steps, config.per_step, config.natural_fraction, config.seed,
                                     config.preprocessor(), config.reduction, progress=False)


@pytest.mark.parametrize("options, message", [
    (["--batch", "0"], "error: batch must be a positive integer, got 0"),
    (["--architecture", "unet", "--crop", "100"], "error: crop must be a multiple of 16 for this network, got 100"),
    (["--wiener-balance", "-1"], "error: wiener_balance must be positive, or null for no Wiener channel; got -1.0"),
    (["--shading", "0.7"], "error: shading must be in [0, 0.5), got 0.7")])
def test_the_cli_refuses_bad_options_in_one_line_before_tensorflow(tmp_path, options, message):
    import subprocess
    import sys

    code = ("import sys; from hdc.train.__main__ import main; code = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run"), *options], capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stderr.splitlines() == [message]
    assert not (tmp_path / "run").exists()


def test_no_wiener_channel_is_none(tmp_path):
    from hdc.train.__main__ import parse_arguments, resolve_config

    config = resolve_config(parse_arguments([str(tmp_path / "run"), "--wiener-balance", "none"]))
    assert config.wiener_balance is None and config.preprocessor().channels == 5
    assert config.architecture.channels == 5


def test_wiener_ranges_draws_takes_the_training_draws(tmp_path):
    from hdc.physics import RADIUS_RANGE
    from hdc.train.__main__ import parse_arguments, resolve_config

    config = resolve_config(parse_arguments([str(tmp_path / "run"), "--wiener-ranges", "draws"]))
    assert config.preprocessor().wiener_ranges == tuple(RADIUS_RANGE)
    assert resolve_config(parse_arguments([str(tmp_path / "other")])).preprocessor().wiener_ranges is None
    with pytest.raises(SystemExit):
        parse_arguments([str(tmp_path / "run"), "--radii", "0-19"])


def test_shading_lays_a_smooth_field_over_text_inputs_only(tiny_cache):
    """With `shading` the text crops' flattened paper takes a smooth field (ink stays at -1) and their targets do
    not change; natural crops are left alone; a batch is still a function of (seed, index) alone; without it the
    batches are those of a run that never had the option."""
    from hdc.synthetic import KIND_CODES
    from hdc.train.batches import crop_batch, shaded, training_batch

    window = np.zeros((20, 30, 6), np.float32)
    window[5:8, 5:8] = -1.0
    field = shaded(window, (140, 180), (300, 400), np.random.default_rng(0), 0.05)
    assert np.allclose(field[5:8, 5:8], -1.0, atol=1e-6) and 0 < np.abs(field[0, 0]).max() < 7 * 0.05
    assert np.abs(np.diff(field[0, :, 0])).max() < 0.01  # smooth along the paper away from the corners
    assert np.allclose(field[..., 0], field[..., 5])  # the same field on every channel
    paper = np.zeros((300, 400, 1), np.float32)
    steps_at_corner, steps_in_middle, corner_levels = [], [], []
    for seed in range(8):
        frame = shaded(paper, (0, 0), (300, 400), np.random.default_rng(seed), 0.05)[..., 0]
        steps_at_corner.append(np.abs(np.diff(frame[0, :60])).max())
        steps_in_middle.append(np.abs(np.diff(frame[150, 170:230])).max())
        corner_levels.append(frame[0, 0] - frame[0, 100])
    assert max(steps_at_corner) > 5 * max(steps_in_middle)  # steep edges at the frame's corners only
    assert min(corner_levels) < -0.04 and max(corner_levels) > 0.04  # darker and lighter corners both
    window_field = shaded(paper[:50, :60], (250, 340), (300, 400), np.random.default_rng(5), 0.05)
    np.testing.assert_allclose(window_field, shaded(paper, (0, 0), (300, 400), np.random.default_rng(5), 0.05)[
        250:, 340:], atol=1e-6)  # a window sees the frame's field: its corner patch included

    cache = cache_module.Cache(tiny_cache)
    rows = np.arange(cache.count)
    plain = crop_batch(cache, rows, np.random.default_rng(3), 40, 0, flip=False, central_fraction=0.0)
    shaded_batch = crop_batch(cache, rows, np.random.default_rng(3), 40, 0, flip=False, central_fraction=0.0,
                              shading=0.05)
    natural = cache.meta[rows, 1] == KIND_CODES["natural"]
    assert natural.any() and not natural.all()
    np.testing.assert_array_equal(plain[2], shaded_batch[2])
    changed = np.abs(plain[0] - shaded_batch[0]).reshape(len(rows), -1).max(axis=1) > 0
    assert not changed[natural].any() and changed[~natural].all()
    config = TrainingConfig(**{**TINY, "shading": 0.05})
    first, again = (training_batch(cache, rows, config, 4) for _ in range(2))
    np.testing.assert_array_equal(first[0], again[0])


def test_the_wide_font_pool_trains_on_more_families_but_not_the_font_shift_tests(tmp_path):
    """`fonts` "wide" adds `hdc.text.TRAINING_FAMILIES` to the look-alikes (never the families of the font-shift
    test) and is part of the cache's identity; any other value is refused before anything runs."""
    from hdc import text

    lookalikes, wide = text.font_paths("Verdana"), text.font_paths("Verdana", pool="wide")
    assert set(lookalikes) < set(wide)
    assert not any(name in path for path in text.font_paths("Times", pool="wide") + wide
                   for name in ("P052", "URWGothic"))
    with pytest.raises(ValueError, match="fonts must be one of look-alikes, wide, varied"):
        TrainingConfig(**{**TINY, "fonts": "bold"})
    config = TrainingConfig(**{**TINY, "steps": [3], "per_step": 2, "natural_fraction": 0.0, "fonts": "wide"})
    cache = cache_module.build_synthetic(tmp_path, config.steps, config.per_step, config.natural_fraction,
                                         config.seed, config.preprocessor(), config.reduction, workers=1,
                                         progress=False, fonts=config.fonts)
    assert json.loads((tmp_path / cache_module.INFO_NAME).read_text())["source"]["fonts"] == "wide"
    assert cache.count == 2


def test_the_varied_camera_model_is_part_of_the_cache_identity(tmp_path):
    """`camera` "varied" (`hdc.physics.vary_camera`) enters the cache's source, so that a cache of the calibrated
    cameras is not reused for it; any other value is refused before anything runs."""
    with pytest.raises(ValueError, match="camera must be one of calibrated, varied"):
        TrainingConfig(**{**TINY, "camera": "pinhole"})
    config = TrainingConfig(**{**TINY, "steps": [9], "per_step": 2, "natural_fraction": 0.0, "camera": "varied"})
    cache_module.build_synthetic(tmp_path, config.steps, config.per_step, config.natural_fraction, config.seed,
                                 config.preprocessor(), config.reduction, workers=1, progress=False,
                                 camera=config.camera)
    assert json.loads((tmp_path / cache_module.INFO_NAME).read_text())["source"]["camera"] == "varied"
    with pytest.raises(ValueError):
        cache_module.build_synthetic(tmp_path, config.steps, config.per_step, config.natural_fraction, config.seed,
                                     config.preprocessor(), config.reduction, workers=1, progress=False)


def test_export_writes_a_run_state_s_weights_from_its_checkpoint_alone(tmp_path, tiny_cache, capsys):
    import shutil

    from hdc.model import build_model
    from hdc.weights import model_spec

    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    assert main([str(run), "--config", str(config_file), "--cache", str(tiny_cache), "--samples", "32", "--quiet"]) == 0
    trained = model_spec(run / "weights", 2)
    expected = build_model(trained.architecture)
    expected.load_weights(trained.path)
    shutil.rmtree(run / "weights")  # a run state as weights/ keeps it: config, log and checkpoint
    assert main([str(run), "--export", "--release", str(tmp_path / "released")]) == 0
    exported = model_spec(run / "weights", 9)
    found = build_model(exported.architecture)
    found.load_weights(exported.path)
    for mine, theirs in zip(found.get_weights(), expected.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert (tmp_path / "released" / "synthetic.weights.h5").is_file()
    shutil.rmtree(run / "checkpoints")
    capsys.readouterr()
    assert main([str(run), "--export"]) != 0
    assert "holds no checkpoint" in capsys.readouterr().err
    assert main([str(tmp_path / "empty"), "--export"]) != 0
    assert "holds no config.json" in capsys.readouterr().err
