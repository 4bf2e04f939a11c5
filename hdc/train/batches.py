"""Training batches: random crops of a cache's rows, drawn deterministically from (seed, batch index).

Batch k depends only on the run's seed and k, so a resumed run draws exactly the batches it would have drawn.
Inputs are (n, crop, crop, channels) float32; targets (n, crop - 2 border, crop - 2 border, 1) float32 in
[0, 1], where border is the network's (0 for the U-Net).
"""

import numpy as np
from scipy.special import expit

from hdc.synthetic import KIND_CODES


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
        weights = weights * np.where(np.asarray(kinds_of_rows) == KIND_CODES["natural"], config.natural_weight, 1.0)
    if config.curriculum:
        ordered = sorted(config.steps)
        first = ordered[len(ordered) // 2]
        highest = first + (ordered[-1] - first) * min(1.0, seen / config.curriculum)
        weights = np.where(steps <= highest + 1e-9, weights, 0.0)
    return weights / weights.sum()


def crop_batch(cache, rows, rng, crop, border, flip=True, central_fraction=0.4, shading=0.0):
    """Random crops of the given cache rows.

    Returns
    -------
    inputs (n, crop, crop, channels) float32, steps (n, 1) float32,
    targets (n, crop - 2 border, crop - 2 border, 1) float32 in [0, 1].
    A `central_fraction` of the crops fall in the central text area, the others anywhere. With `shading`, the
    inputs of text crops get a random smooth shading of that amplitude (`shaded`); their targets stay as they are.
    """
    rows_count, columns_count = cache.inputs.shape[1:3]
    n = len(rows)
    inputs = np.empty((n, crop, crop, cache.inputs.shape[3]), np.float32)
    shading_rng = rng.spawn(1)[0] if shading else None  # its own stream: the crops are those drawn without it
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
        if shading and cache.meta[row, 1] != KIND_CODES["natural"]:
            window = shaded(window, (top, left), (rows_count, columns_count), shading_rng, shading)
        if flip and rng.random() < 0.5:
            window, target = window[:, ::-1], target[:, ::-1]
        inputs[position] = window
        targets[position, :, :, 0] = target / 255.0
    return inputs, cache.meta[rows, 0:1].astype(np.float32), targets


def shaded(window, corner, frame_shape, rng, amplitude):
    """`window` (h, w, channels), cut from a frame of `frame_shape` at `corner` (top, left), times a random smooth
    shading of the paper: (window + 1) (1 + field) - 1, so the flattened paper (0) takes the field's value and
    the ink (-1) stays. The field, in frame coordinates x, y in [-1, 1], is a quadratic surface with six
    coefficients and a Gaussian bump (width 0.2-0.6, anywhere), each of amplitude up to `amplitude`, plus a patch
    at each of the frame's four corners (`corner_patches`, depth up to twice the amplitude): what the flattening
    leaves on real captures (a glare halo, a vignetting the border fit misses, the darker outermost 10-30 pixels
    at the corners of the real step-14 captures). (h, w, channels) float32."""
    rows, columns = window.shape[:2]
    y = np.linspace(-1.0, 1.0, frame_shape[0])[corner[0]:corner[0] + rows, None]
    x = np.linspace(-1.0, 1.0, frame_shape[1])[None, corner[1]:corner[1] + columns]
    c = rng.uniform(-amplitude, amplitude, 7)
    centre, width = rng.uniform(-1.0, 1.0, 2), rng.uniform(0.2, 0.6)
    field = (c[0] + c[1] * x + c[2] * y + c[3] * x * y + c[4] * x * x + c[5] * y * y
             + c[6] * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * width ** 2)))
    return with_paper_field(window, field + corner_patches((rows, columns), corner, frame_shape, rng, 2 * amplitude))


def corner_patches(shape, corner, frame_shape, rng, depth):
    """Patches at the four corners of a frame of `frame_shape`, seen through a window of `shape` (h, w) at
    `corner` (top, left): each of a random depth in [-depth, depth] (either sign: darker or lighter paper) and
    size 4-40 pixels, square or round (the distance to the corner taken as the larger offset or the Euclidean
    one), with a logistic edge of softness 1-8 pixels, so that both flat squares and steep falloffs occur.
    (h, w) float64, zero away from the corners (computed only where the window meets them)."""
    field = np.zeros(shape)
    depths, sizes, softnesses = rng.uniform(-depth, depth, 4), rng.uniform(4.0, 40.0, 4), rng.uniform(1.0, 8.0, 4)
    squares = rng.random(4) < 0.5
    frame_corners = [(0, 0), (0, frame_shape[1] - 1), (frame_shape[0] - 1, 0), (frame_shape[0] - 1, frame_shape[1] - 1)]
    for level, size, softness, square, (corner_row, corner_column) in zip(depths, sizes, softnesses, squares,
                                                                         frame_corners):
        reach = int(size + 6 * softness) + 1
        top, bottom = max(corner_row - reach, corner[0]), min(corner_row + reach + 1, corner[0] + shape[0])
        left, right = max(corner_column - reach, corner[1]), min(corner_column + reach + 1, corner[1] + shape[1])
        if top >= bottom or left >= right:
            continue
        offset_rows = np.abs(np.arange(top, bottom) - corner_row)[:, None]
        offset_columns = np.abs(np.arange(left, right) - corner_column)[None, :]
        distance = np.maximum(offset_rows, offset_columns) if square else np.hypot(offset_rows, offset_columns)
        field[top - corner[0]:bottom - corner[0], left - corner[1]:right - corner[1]] += level * expit(
            (size - distance) / softness)
    return field


def with_paper_field(window, field):
    """`window` (h, w, channels), flattened paper at 0 and ink at -1, times 1 + `field` (h, w) about the ink
    level: (window + 1) (1 + field) - 1, so the paper takes the field's value and the ink stays. float32."""
    return ((window + 1.0) * (1.0 + field[..., None]) - 1.0).astype(np.float32)


def training_batch(cache, train_rows, config, index):
    """Batch number `index` of the run: deterministic in (seed, index)."""
    rng = np.random.default_rng([config.seed, 1, index])
    probabilities = step_probabilities(cache.meta[train_rows, 0], config, index * config.batch,
                                       cache.meta[train_rows, 1])
    rows = rng.choice(train_rows, size=config.batch, p=probabilities)
    return crop_batch(cache, rows, rng, config.crop, config.architecture.border,
                      central_fraction=config.central_fraction, shading=config.shading)


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
