"""Releasing a run into a weights folder, and starting a new run from a release."""

from pathlib import Path

from hdc.train.config import CONFIG_NAME

RELEASED_FILES = ("config.json", "log.csv", "loss.png")


def release(run_dir, destination):
    """Copy a run's weights, manifest, config, log, plot and latest checkpoint into `destination` (e.g. weights/).

    The checkpoint goes to `destination`/checkpoint, so that training can later
    continue from the release (``--resume --from-release``).
    """
    import shutil

    import tensorflow as tf

    run_dir, destination = Path(run_dir), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted((run_dir / "weights").iterdir()):
        shutil.copy2(path, destination / path.name)
    for name in RELEASED_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, destination / name)
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir():
        target = destination / "checkpoint"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        latest = Path(tf.train.latest_checkpoint(str(checkpoints)))
        for path in checkpoints.glob(latest.name + ".*"):
            shutil.copy2(path, target / path.name)
        (target / "checkpoint").write_text(f'model_checkpoint_path: "{latest.name}"\n'
                                           f'all_model_checkpoint_paths: "{latest.name}"\n')


def seed_from_release(run_dir, source):
    """Start a run folder from a release: its config, log, plot and checkpoint (the checkpoint folder's own
    log.csv, loss.png and config.json, when present, describe a run continued past the released weights)."""
    import shutil

    run_dir, source = Path(run_dir), Path(source)
    if (run_dir / CONFIG_NAME).is_file():
        raise ValueError(f"{run_dir} already holds a run; --from-release needs a new folder")
    if not (source / "checkpoint").is_dir() or not (source / CONFIG_NAME).is_file():
        raise ValueError(f"{source} holds no released checkpoint and config.json")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in RELEASED_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, run_dir / name)
    shutil.copytree(source / "checkpoint", run_dir / "checkpoints")
    for name in ("log.csv", "loss.png", CONFIG_NAME):  # the checkpoint's own, if newer than the weights'
        if (source / "checkpoint" / name).is_file():
            shutil.move(run_dir / "checkpoints" / name, run_dir / name)
