"""The training loop of ``python -m hdc.train``: batches in, checkpoints, log and loss plot out.

A run folder holds everything about one training run::

    config.json        the validated configuration (written once; --resume reads it)
    cache/             preprocessed samples (see hdc.train.cache), unless --cache names a shared one
    checkpoints/       model + optimizer + progress, written every few minutes
    log.csv, loss.png  training and validation loss per logging interval
    weights/           the exported weights and manifest (usable by main.py --weights)

Training is deterministic in its data: batch k is drawn from a generator seeded by (seed, k), so ``--resume``
continues exactly where it stopped.

The loop is written out instead of `model.fit` with callbacks: it checkpoints on a clock at any batch and
resumes exactly there, under any tf.distribute strategy, and it keeps the optimizer's variables as the
checkpoints already written hold them (the rate is assigned to Adam's learning-rate variable each batch; a
Keras `LearningRateSchedule` in its place removes that variable, and the checkpoints of runs in progress then
fail to restore: tried on the U-Net run's checkpoint).
"""

import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

from hdc.train.batches import make_dataset
from hdc.train.config import learning_rate_at


def append_log(path, row):
    """Append one row (dict) to the CSV log, writing the header the first time."""
    new = not path.is_file()
    with open(path, "a", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def plot_log(log_path, image_path):
    """Plot training and validation loss against crops seen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_path) as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        return
    seen = [int(row["samples"]) for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(seen, [float(row["loss"]) for row in rows], label="training")
    validation = [(s, float(row["validation_loss"])) for s, row in zip(seen, rows) if row["validation_loss"]]
    if validation:
        axes.plot(*zip(*validation), label="validation")
    axes.set_xlabel("training crops seen")
    axes.set_ylabel("binary cross-entropy")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(image_path, dpi=100)
    plt.close(figure)


def prepare_cache(config, cache_dir, progress=True):
    """Build (or resume) the cache the config asks for and open it."""
    from hdc.train import cache as cache_module

    if config.data == "synthetic":
        return cache_module.build_synthetic(cache_dir, config.steps, config.per_step, config.natural_fraction,
                                            config.seed, config.preprocessor(), config.reduction,
                                            progress=progress, fonts=config.fonts, camera=config.camera)
    return cache_module.build_real(cache_dir, config.data, config.preprocessor(), set(config.steps),
                                   progress=progress)


def train(run_dir, config, cache_dir=None, strategy="default", resume=False, progress=True, max_minutes=None):
    """Train (or resume) a run; returns the final (training loss, validation loss)."""
    from tqdm import tqdm

    from hdc.train.trainer import Trainer

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = prepare_cache(config, Path(cache_dir) if cache_dir else run_dir / "cache", progress)
    trainer = Trainer(run_dir, config, cache, strategy)
    if not (resume and trainer.restore()):
        if resume:
            print("no checkpoint to resume from; starting from scratch", file=sys.stderr)
        if config.init_from:
            trainer.warm_start(config.init_from)
    total_batches = math.ceil(config.samples / config.batch)
    first = int(trainer.batches_done.numpy())
    log_every = max(1, config.log_every // config.batch)
    dataset = trainer.distribute(make_dataset(cache, trainer.train_rows, config, first, total_batches))
    start, last_checkpoint, window, window_start = time.time(), time.time(), [], time.time()
    losses = (math.nan, None)
    bar = tqdm(total=total_batches * config.batch, initial=first * config.batch, unit="crop", disable=not progress,
               smoothing=0.05)
    for index, batch in enumerate(dataset, start=first):
        trainer.optimizer.learning_rate.assign(learning_rate_at(config, index * config.batch))
        window.append(trainer.train_step(batch))
        trainer.batches_done.assign(index + 1)
        bar.update(config.batch)
        done = index + 1 == total_batches
        if (index + 1) % log_every == 0 or done:
            validation = trainer.validation_loss()
            rate = len(window) * config.batch / (time.time() - window_start)
            losses = (float(np.mean(window)), validation)
            append_log(run_dir / "log.csv", {
                "samples": (index + 1) * config.batch, "loss": f"{losses[0]:.5f}",
                "validation_loss": "" if validation is None else f"{validation:.5f}",
                "learning_rate": f"{learning_rate_at(config, index * config.batch):.3g}",
                "samples_per_second": f"{rate:.1f}", "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
            bar.set_postfix(loss=f"{losses[0]:.4f}", val="-" if validation is None else f"{validation:.4f}",
                            rate=f"{rate:.1f}/s")
            window, window_start = [], time.time()
        stop = max_minutes is not None and time.time() - start > 60 * max_minutes
        if done or stop or time.time() - last_checkpoint > 60 * config.checkpoint_minutes:
            trainer.manager.save()
            trainer.export()
            if (run_dir / "log.csv").is_file():
                plot_log(run_dir / "log.csv", run_dir / "loss.png")
            last_checkpoint = time.time()
        if stop:
            break
    bar.close()
    return losses
