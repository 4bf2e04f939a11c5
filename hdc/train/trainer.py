"""The `Trainer` of one run folder: its model, optimizer, checkpoint, training step and validation loss."""

import dataclasses
from pathlib import Path

import numpy as np

from hdc.train.batches import split_indices, validation_set
# At import, not at the first checkpoint: a run of hours must not pick up code edited meanwhile (an export that
# imported hdc.weights lazily met a half-edited package and stopped a run).
from hdc.weights import export_model, model_spec


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
        self.strategy = distribution_strategy(strategy_name)
        with self.strategy.scope():
            self.model = build_model(config.architecture, "mixed_bfloat16" if config.mixed_precision else "float32",
                                     seed=config.seed)
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
        return export_run(self.model, self.run_dir, self.config, name)


def export_run(model, run_dir, config, name="synthetic"):
    """Write `model`'s weights and a manifest made from the run's `config` to `run_dir`/weights; the `ModelSpec`."""
    return export_model(model, Path(run_dir) / "weights", name, config.scale, config.median_widths,
                        config.architecture, config.wiener_balance, config.radii, config.wiener_ranges,
                        config.radius_source)


def export_checkpoint(run_dir, config, name="synthetic"):
    """Write `run_dir`/weights from the run's latest checkpoint, without its cache or its optimizer (a run state
    kept as its checkpoint alone, as in weights/); the `ModelSpec` written. ValueError when there is none."""
    import tensorflow as tf

    from hdc.model import build_model

    latest = tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints"))
    if latest is None:
        raise ValueError(f"{run_dir} holds no checkpoint to export")
    model = build_model(config.architecture, "mixed_bfloat16" if config.mixed_precision else "float32",
                        seed=config.seed)
    tf.train.Checkpoint(model=model).restore(latest).expect_partial().assert_existing_objects_matched()
    return export_run(model, run_dir, config, name)
