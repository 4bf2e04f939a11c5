"""Training: ``python -m hdc.train RUN_DIR [options] [--resume]``.

A run folder holds everything about one training run::

    config.json        the validated configuration (written once; --resume reads it)
    cache/             preprocessed samples (see hdc.cache), unless --cache names a shared one
    checkpoints/       model + optimizer + progress, written every few minutes
    log.csv, loss.png  training and validation loss per logging interval
    weights/           the exported weights and manifest (usable by main.py --weights)

Training is deterministic in its data: batch k is drawn from a generator
seeded by (seed, k), so ``--resume`` continues exactly where it stopped.
"""

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

CONFIG_NAME = "config.json"
# Options that --resume may change: the length of the run and its schedule, not its data.
RESUMABLE = ("samples", "decay_start", "decay_half_life", "checkpoint_minutes", "log_every", "central_fraction",
             "natural_weight")


@dataclasses.dataclass
class TrainingConfig:
    """Everything that defines a training run; saved as config.json beside its weights.

    data : "synthetic" or the path of a real dataset folder (official training layout).
    steps : blur steps to train on.
    per_step : synthetic images per step in the cache.
    natural_fraction : share of blurred natural images (the sanity check), synthetic data only.
    reduction : the synthetic generator works at 1/reduction of full resolution.
    scale : working scale (7 means 1:7).
    crop : side of the square training crops (working-scale pixels).
    batch : crops per batch.
    samples : total crops to train on.
    learning_rate : Adam's initial rate (the article: 10^-2.5).
    decay_start, decay_half_life : after `decay_start` crops the rate halves every `decay_half_life` crops.
    step_weight : how much more often step 19 is drawn than step 0 (linear in between; 1 = uniform).
    natural_weight : how much more often a natural image is drawn than a text image of the same step.
    central_fraction : share of crops centred in the text area; the others fall anywhere, so that the
        network also learns that the paper far from the text is white.
    curriculum : crops over which the highest step drawn ramps from steps[len//2] up to the last step (0 = off).
    validation_fraction : images held out (by sample, never by crop) for the validation loss.
    validation_crops : crops in the fixed validation set.
    mixed_precision : train in mixed_bfloat16.
    checkpoint_minutes : minutes between checkpoints.
    log_every : crops between log lines.
    seed : seed of the data order, crops and synthetic samples.
    architecture : fields of an `hdc.architecture` architecture, with its "kind" ("article" when missing,
        or "unet").
    median_widths : median filter widths of the input channels.
    wiener_balance : regularization of the Wiener-deconvolved input channel (0: no such channel).
    init_from : a release folder (e.g. weights/) whose weights start the run instead of random ones; its
        network may have fewer input channels (the new channels' kernels start at zero). Empty: random start.
    """

    data: str = "synthetic"
    steps: list = dataclasses.field(default_factory=lambda: list(range(20)))
    per_step: int = 200
    natural_fraction: float = 0.1
    reduction: int = 2
    scale: float = 7.0
    crop: int = 128
    batch: int = 32
    samples: int = 400_000
    learning_rate: float = 10 ** -2.5
    decay_start: int = 200_000
    decay_half_life: int = 100_000
    step_weight: float = 2.0
    natural_weight: float = 1.0
    central_fraction: float = 0.4
    curriculum: int = 40_000
    validation_fraction: float = 0.1
    validation_crops: int = 512
    mixed_precision: bool = True
    checkpoint_minutes: float = 5.0
    log_every: int = 4096
    seed: int = 0
    architecture: dict = dataclasses.field(default_factory=dict)
    median_widths: list = dataclasses.field(default_factory=lambda: [3, 5, 7, 9])
    wiener_balance: float = 0.01
    init_from: str = ""

    def __post_init__(self):
        from hdc.architecture import architecture_from_dict

        self.architecture = architecture_from_dict({**self.architecture, "channels": self.preprocessor().channels})
        problems = []
        if not self.wiener_balance >= 0:
            problems.append(f"wiener_balance must be positive, or 0 for no Wiener channel; got {self.wiener_balance}")
        if not self.steps or any(not isinstance(s, int) or not 0 <= s <= 19 for s in self.steps):
            problems.append(f"steps must be integers in 0..19, got {self.steps}")
        if self.crop <= 2 * self.architecture.border:
            problems.append(f"crop must exceed twice the network border {self.architecture.border}, got {self.crop}")
        if self.crop % self.architecture.multiple:
            problems.append(f"crop must be a multiple of {self.architecture.multiple} for this network, got {self.crop}")
        for name in ("per_step", "batch", "samples", "validation_crops", "log_every", "reduction"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("natural_fraction", "validation_fraction", "central_fraction"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not (self.learning_rate > 0 and self.scale > 0 and self.step_weight > 0 and self.natural_weight > 0):
            problems.append("learning_rate, scale, step_weight and natural_weight must be positive")
        if self.data != "synthetic" and not Path(self.data).is_dir():
            problems.append(f"data must be 'synthetic' or a dataset folder, got {self.data!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def preprocessor(self):
        """The `hdc.preprocessing.Preprocessor` that makes this run's network inputs."""
        from hdc.preprocessing import Preprocessor

        return Preprocessor(self.scale, self.median_widths, self.wiener_balance or None)

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["architecture"] = self.architecture.to_dict()
        return values

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        return cls(**values)


def learning_rate_at(config, seen):
    """Adam's rate after `seen` crops: constant, then halving every `decay_half_life` crops."""
    if seen <= config.decay_start:
        return config.learning_rate
    return config.learning_rate * 0.5 ** ((seen - config.decay_start) / config.decay_half_life)


def split_indices(meta, validation_fraction, seed):
    """Training and validation row indices of a cache, split by (step, kind, sample), never by crop."""
    draws = np.array([np.random.default_rng([seed, 7, *map(int, key)]).random() for key in meta])
    held_out = draws < validation_fraction
    if validation_fraction > 0 and len(draws) > 1 and not held_out.any():
        held_out[np.argmin(draws)] = True
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def step_probabilities(steps_of_rows, config, seen, kinds_of_rows=None):
    """Drawing probability of each cached row: weighted by step and kind (`hdc.synthetic.KIND_CODES`; natural
    images by `config.natural_weight`), and limited by the curriculum."""
    steps = np.asarray(steps_of_rows, dtype=float)
    weights = 1.0 + (config.step_weight - 1.0) * steps / 19.0
    if kinds_of_rows is not None:
        from hdc.synthetic import KIND_CODES

        weights = weights * np.where(np.asarray(kinds_of_rows) == KIND_CODES["natural"], config.natural_weight, 1.0)
    if config.curriculum:
        ordered = sorted(config.steps)
        first = ordered[len(ordered) // 2]
        highest = first + (ordered[-1] - first) * min(1.0, seen / config.curriculum)
        weights = np.where(steps <= highest + 1e-9, weights, 0.0)
    return weights / weights.sum()


def crop_batch(cache, rows, rng, crop, border, flip=True, central_fraction=0.4):
    """Random crops of the given cache rows.

    Returns
    -------
    inputs (n, crop, crop, channels) float32, steps (n, 1) float32,
    targets (n, crop - 2 border, crop - 2 border, 1) float32 in [0, 1].
    A `central_fraction` of the crops fall in the central text area, the others anywhere.
    """
    rows_count, columns_count = cache.inputs.shape[1:3]
    n = len(rows)
    inputs = np.empty((n, crop, crop, cache.inputs.shape[3]), np.float32)
    targets = np.empty((n, crop - 2 * border, crop - 2 * border, 1), np.float32)
    for position, row in enumerate(rows):
        if rng.random() < central_fraction:
            top = int(rng.integers(rows_count // 5, max(rows_count // 5 + 1, 4 * rows_count // 5 - crop)))
            left = int(rng.integers(columns_count // 8, max(columns_count // 8 + 1, 7 * columns_count // 8 - crop)))
        else:
            top = int(rng.integers(0, rows_count - crop + 1))
            left = int(rng.integers(0, columns_count - crop + 1))
        top, left = min(top, rows_count - crop), min(left, columns_count - crop)
        window = cache.inputs[row, top:top + crop, left:left + crop]
        target = cache.targets[row, top + border:top + crop - border, left + border:left + crop - border]
        if flip and rng.random() < 0.5:
            window, target = window[:, ::-1], target[:, ::-1]
        inputs[position] = window
        targets[position, :, :, 0] = target / 255.0
    return inputs, cache.meta[rows, 0:1].astype(np.float32), targets


def training_batch(cache, train_rows, config, index):
    """Batch number `index` of the run: deterministic in (seed, index)."""
    rng = np.random.default_rng([config.seed, 1, index])
    probabilities = step_probabilities(cache.meta[train_rows, 0], config, index * config.batch,
                                       cache.meta[train_rows, 1])
    rows = rng.choice(train_rows, size=config.batch, p=probabilities)
    return crop_batch(cache, rows, rng, config.crop, config.architecture.border,
                      central_fraction=config.central_fraction)


def validation_set(cache, validation_rows, config):
    """The fixed validation crops: no flips, and a fixed central share, whatever the training's."""
    rng = np.random.default_rng([config.seed, 2])
    rows = rng.choice(validation_rows, size=config.validation_crops)
    return crop_batch(cache, rows, rng, config.crop, config.architecture.border, flip=False, central_fraction=0.4)


def make_dataset(cache, train_rows, config, first_batch, last_batch):
    """tf.data pipeline of batches first_batch..last_batch-1, made in parallel and prefetched."""
    import tensorflow as tf

    channels, crop, out = cache.inputs.shape[3], config.crop, config.crop - 2 * config.architecture.border

    def make(index):
        return training_batch(cache, train_rows, config, int(index))

    def wrapped(index):
        inputs, steps, targets = tf.numpy_function(make, [index], (tf.float32, tf.float32, tf.float32))
        inputs.set_shape((config.batch, crop, crop, channels))
        steps.set_shape((config.batch, 1))
        targets.set_shape((config.batch, out, out, 1))
        return (inputs, steps), targets

    dataset = tf.data.Dataset.range(first_batch, last_batch)
    dataset = dataset.map(wrapped, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def distribution_strategy(name):
    """tf.distribute strategy by name: "default", "mirrored" (all local GPUs/CPU) or "multiworker" (TF_CONFIG)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be default, mirrored or multiworker, got {name!r}")


class Trainer:
    """Model, optimizer, checkpoint and the training step of one run folder."""

    def __init__(self, run_dir, config, cache, strategy_name="default"):
        import keras
        import tensorflow as tf

        from hdc.model import build_model

        self.run_dir, self.config, self.cache = Path(run_dir), config, cache
        keras.utils.set_random_seed(config.seed)  # the run owns its randomness: initial weights follow its seed
        self.strategy = distribution_strategy(strategy_name)
        with self.strategy.scope():
            self.model = build_model(config.architecture, "mixed_bfloat16" if config.mixed_precision else "float32")
            self.optimizer = keras.optimizers.Adam(config.learning_rate)
            self.batches_done = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.optimizer.build(self.model.trainable_variables)
        self.loss = keras.losses.BinaryCrossentropy(reduction="none")
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, batches=self.batches_done)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.run_dir / "checkpoints", max_to_keep=2)
        self.train_rows, self.validation_rows = split_indices(cache.meta[:cache.count], config.validation_fraction,
                                                              config.seed)
        self.validation = validation_set(cache, self.validation_rows, config) if len(self.validation_rows) else None
        self.distributed_step = tf.function(self._distributed_step)
        self.predict = tf.function(lambda inputs, steps: self.model([inputs, steps], training=False))

    def warm_start(self, folder):
        """Set the model's weights from the release in `folder` (see `TrainingConfig.init_from`)."""
        from hdc.model import build_model
        from hdc.weights import model_spec

        spec = model_spec(folder, self.config.steps[0])
        wanted = self.config.architecture
        if spec.architecture == wanted:
            self.model.load_weights(spec.path)
            return
        if wanted.kind != "article" or spec.architecture.kind != "article" or dataclasses.replace(
                spec.architecture, channels=wanted.channels, skip=wanted.skip) != wanted:
            raise ValueError(f"the network in {folder} differs from this run's in more than the article network's "
                             "input channels and skip path")
        source = build_model(spec.architecture)
        source.load_weights(spec.path)
        released_names = {layer.name for layer in source.layers}
        for layer in self.model.layers:
            if layer.name not in released_names:  # a skip path added to the release keeps its initial weights
                continue
            values = []
            for released, current in zip(source.get_layer(layer.name).get_weights(), layer.get_weights()):
                if released.shape != current.shape:  # the first kernel (3, 3, channels, width)
                    shared = min(released.shape[2], current.shape[2])
                    widened = np.zeros_like(current)
                    widened[:, :, :shared] = released[:, :, :shared]
                    released = widened
                values.append(released)
            layer.set_weights(values)

    def restore(self):
        """Restore the latest checkpoint; returns True when there was one."""
        if self.manager.latest_checkpoint is None:
            return False
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return True

    def _replica_step(self, inputs, steps, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = self.model([inputs, steps], training=True)
            per_pixel = self.loss(targets, tf.cast(outputs, tf.float32))
            loss = tf.nn.compute_average_loss(tf.reduce_mean(per_pixel, axis=[1, 2]),
                                              global_batch_size=self.config.batch)
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return loss

    def _distributed_step(self, batch):
        (inputs, steps), targets = batch
        losses = self.strategy.run(self._replica_step, args=(inputs, steps, targets))
        return self.strategy.reduce("SUM", losses, axis=None)

    def train_step(self, batch):
        """One optimizer step on a (distributed) batch; returns the batch's mean loss."""
        return float(self.distributed_step(batch))

    def distribute(self, dataset):
        """The dataset split across the strategy's replicas."""
        return self.strategy.experimental_distribute_dataset(dataset)

    def validation_loss(self):
        """Mean binary cross-entropy on the fixed validation crops (None without a validation split)."""
        if self.validation is None:
            return None
        inputs, steps, targets = self.validation
        losses = []
        for start in range(0, len(inputs), 64):
            outputs = self.predict(inputs[start:start + 64], steps[start:start + 64])
            losses.append(self.loss(targets[start:start + 64], np.asarray(outputs, np.float32)).numpy().mean())
        return float(np.mean(losses))

    def export(self, name="synthetic"):
        """Write the current weights and a manifest to RUN_DIR/weights."""
        from hdc.weights import export_model

        return export_model(self.model, self.run_dir / "weights", name, self.config.scale,
                            self.config.median_widths, self.config.architecture,
                            self.config.wiener_balance or None)


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
    from hdc import cache as cache_module

    if config.data == "synthetic":
        return cache_module.build_synthetic(cache_dir, config.steps, config.per_step, config.natural_fraction,
                                            config.seed, config.preprocessor(), config.reduction,
                                            progress=progress)
    return cache_module.build_real(cache_dir, config.data, config.preprocessor(), set(config.steps),
                                   progress=progress)


def train(run_dir, config, cache_dir=None, strategy="default", resume=False, progress=True, max_minutes=None):
    """Train (or resume) a run; returns the final (training loss, validation loss)."""
    from tqdm import tqdm

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


def architecture_option(text):
    """The --architecture option: a kind name or a JSON object of architecture fields, as a dict."""
    from hdc.architecture import KINDS

    if text in KINDS:
        return {"kind": text}
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError(f"expected {' or '.join(sorted(KINDS))} or a JSON object, got {text!r}")
    return values


def parse_arguments(argv):
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(prog="python -m hdc.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="run folder (config, cache, checkpoints, log, weights)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--config", type=Path, help="JSON file of TrainingConfig fields (options below override it)")
    parser.add_argument("--cache", type=Path, help="cache folder to use instead of RUN_DIR/cache (can be shared)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="tf.distribute strategy: mirrored over local GPUs, or multi-worker through TF_CONFIG")
    parser.add_argument("--max-minutes", type=float, help="stop (after a checkpoint) after this many minutes")
    parser.add_argument("--release", type=Path, metavar="DIR",
                        help="after training, copy weights, manifest, config, log, plot and checkpoint to DIR")
    parser.add_argument("--from-release", type=Path, metavar="DIR",
                        help="with --resume: start RUN_DIR from a release folder (e.g. weights/) and continue it")
    parser.add_argument("--architecture", type=architecture_option, metavar="KIND|JSON",
                        help='the network: "article" (default), "unet", or a JSON object of hdc.architecture fields '
                             'with its "kind", e.g. \'{"kind": "unet", "widths": [24, 48, 96, 192, 256]}\'')
    parser.add_argument("--quiet", action="store_true")
    for field in dataclasses.fields(TrainingConfig):
        if field.name in ("architecture", "median_widths"):
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, type=lambda text: text.lower() in ("1", "true", "yes"), default=None,
                                metavar="BOOL")
        elif isinstance(default, list):
            from hdc.synthetic import parse_steps

            parser.add_argument(flag, type=parse_steps, default=None, metavar="0-19")
        else:
            parser.add_argument(flag, type=type(default), default=None)
    return parser.parse_args(argv)


def resolve_config(arguments):
    """The run's config: config.json when resuming, else --config and the options; validated."""
    path = arguments.run_dir / CONFIG_NAME
    options = {field.name: getattr(arguments, field.name) for field in dataclasses.fields(TrainingConfig)
               if getattr(arguments, field.name, None) is not None}
    if arguments.resume and path.is_file():
        values = json.loads(path.read_text())
        changed = {k: v for k, v in options.items() if values.get(k) != v and k not in RESUMABLE}
        if changed:
            raise ValueError(f"--resume keeps the run's config.json; these options differ from it: {sorted(changed)}")
        values.update({k: v for k, v in options.items() if k in RESUMABLE})
        return TrainingConfig.from_dict(values)
    if path.is_file() and not arguments.resume:
        raise ValueError(f"{arguments.run_dir} already holds a run; use --resume or another folder")
    values = json.loads(arguments.config.read_text()) if arguments.config else {}
    values.update(options)
    return TrainingConfig.from_dict(values)


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        if arguments.from_release:
            if not arguments.resume:
                raise ValueError("--from-release goes with --resume")
            seed_from_release(arguments.run_dir, arguments.from_release)
        config = resolve_config(arguments)
        resuming = arguments.resume and (arguments.run_dir / "checkpoints" / "checkpoint").is_file()
        if config.init_from and not resuming and not Path(config.init_from).is_dir():
            raise ValueError(f"init_from must be a release folder, got {config.init_from!r}")
    except (ValueError, OSError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    arguments.run_dir.mkdir(parents=True, exist_ok=True)
    (arguments.run_dir / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    loss, validation = train(arguments.run_dir, config, arguments.cache, arguments.strategy, arguments.resume,
                             not arguments.quiet, arguments.max_minutes)
    print(f"training loss {loss:.4f}, validation loss {validation if validation is None else round(validation, 4)}; "
          f"weights in {arguments.run_dir / 'weights'}")
    if arguments.release:
        release(arguments.run_dir, arguments.release)
        print(f"released to {arguments.release}; tune its data consistency next (python -m evaluation.consistency "
              f"{arguments.release} --text DIR... --natural DIR...): without it the outputs are the network's alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
