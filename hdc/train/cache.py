"""Preprocessed training samples on disk, at the working scale.

A cache folder holds memory-mapped arrays that grow as samples are added,
so a long build can stop and resume, and training never loads the whole
dataset into memory:

    inputs.npy   (capacity, h, w, channels) float16   network inputs
    targets.npy  (capacity, h, w) uint8               targets, 255 = white
    meta.npy     (capacity, 3) int32                  step, kind (0 Times, 1 Verdana, 2 natural), sample id
    cache.json   shape, scale, median widths, Wiener balance, radii and ranges, source, format version, count of
                 filled rows

Samples come from the synthetic generator (in memory, at reduced resolution
for speed) or from a real dataset folder through `hdc.dataset`.
"""

import json
from pathlib import Path

import numpy as np

from hdc.physics import CAMERA_SHAPE
from hdc.preprocessing import prepare_natural_target, prepare_target, working_shape
from hdc.synthetic import KIND_CODES

INFO_NAME = "cache.json"
# Version of what a row holds; raised when preprocessing changes, so that an older cache is not reused.
# 2: natural images scaled by twice their mean (`hdc.preprocessing.background`), not by a border surface.
# 3: synthetic steps 15-19 drawn over radii that include the real captures' zero rings (`hdc.physics`).
# 4: the Wiener channel with mirrored borders (cosine transform), not padded and wrapped around.
FORMAT = 4


def ranges_list(preprocessor):
    """The preprocessor's Wiener ranges as JSON lists, or None."""
    return None if preprocessor.wiener_ranges is None else [list(pair) for pair in preprocessor.wiener_ranges]


class Cache:
    """An open cache folder (see the module docstring)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        info_path = self.folder / INFO_NAME
        if not info_path.is_file():
            raise FileNotFoundError(f"no training cache in {self.folder}")
        self.info = json.loads(info_path.read_text())
        self.inputs = np.load(self.folder / "inputs.npy", mmap_mode="r+")
        self.targets = np.load(self.folder / "targets.npy", mmap_mode="r+")
        self.meta = np.load(self.folder / "meta.npy", mmap_mode="r+")

    @property
    def count(self):
        return int(self.info["count"])

    @property
    def capacity(self):
        return self.inputs.shape[0]

    @classmethod
    def create(cls, folder, capacity, shape, preprocessor, source):
        """Make an empty cache for `capacity` samples of working-scale `shape` (rows, columns) made by
        `preprocessor` (a `hdc.preprocessing.Preprocessor`)."""
        channels = preprocessor.channels
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rows, columns = shape
        np.lib.format.open_memmap(folder / "inputs.npy", "w+", np.float16, (capacity, rows, columns, channels))
        np.lib.format.open_memmap(folder / "targets.npy", "w+", np.uint8, (capacity, rows, columns))
        np.lib.format.open_memmap(folder / "meta.npy", "w+", np.int32, (capacity, 3))
        info = {"shape": [rows, columns], "channels": channels, "scale": preprocessor.scale,
                "median_widths": list(preprocessor.median_widths), "wiener_balance": preprocessor.wiener_balance,
                "radii": list(preprocessor.radii), "wiener_ranges": ranges_list(preprocessor),
                "radius_source": preprocessor.radius_source, "source": source,
                "format": FORMAT, "count": 0}
        (folder / INFO_NAME).write_text(json.dumps(info, indent=1))
        return cls(folder)

    def check(self, preprocessor, source):
        """Raise ValueError unless this cache was built by `preprocessor` from `source`."""
        wanted = {"scale": preprocessor.scale, "median_widths": list(preprocessor.median_widths),
                  "wiener_balance": preprocessor.wiener_balance, "radii": list(preprocessor.radii),
                  "wiener_ranges": ranges_list(preprocessor), "radius_source": preprocessor.radius_source,
                  "source": source, "format": FORMAT}
        found = {key: self.info.get(key) for key in wanted}
        if found != wanted:
            raise ValueError(f"the cache in {self.folder} was built with other settings: {found}, not {wanted}")

    def append(self, network_input, target, step, kind, sample):
        """Store one sample in the next free row; the count is saved after each flush."""
        index = self.count
        if index >= self.capacity:
            raise ValueError(f"training cache {self.folder} is full ({self.capacity} samples)")
        self.inputs[index] = network_input.astype(np.float16)
        self.targets[index] = np.rint(np.clip(target, 0.0, 1.0) * 255).astype(np.uint8)
        self.meta[index] = (step, kind, sample)
        self.info["count"] = index + 1

    def flush(self):
        """Write the arrays and then the count, so a crash never counts an unwritten row."""
        for array in (self.inputs, self.targets, self.meta):
            array.flush()
        temporary = self.folder / (INFO_NAME + ".part")
        temporary.write_text(json.dumps(self.info, indent=1))
        temporary.replace(self.folder / INFO_NAME)


def synthetic_plan(steps, per_step, natural_fraction, seed):
    """The list of (step, kind, sample id) a synthetic cache holds, in build order.

    Each step gets `per_step` samples: text alternating Times and Verdana, and
    a `natural_fraction` of natural images. The order is interleaved across
    steps, so a partly built cache already covers every step.
    """
    plan = []
    natural_every = int(round(1.0 / natural_fraction)) if natural_fraction > 0 else 0
    for index in range(per_step):
        for step in steps:
            if natural_every and index % natural_every == natural_every - 1:
                kind = KIND_CODES["natural"]
            else:
                kind = index % 2
            plan.append((step, kind, index))
    return plan


def synthetic_sample(job):
    """Make one preprocessed synthetic sample; `job` = (seed, step, kind, index, preprocessor, reduction, fonts,
    camera), `fonts` the pool of text fonts (`hdc.text.font_paths`), `camera` the blurred cameras' model
    (`hdc.physics.CAMERA_MODELS`)."""
    from hdc import synthetic

    seed, step, kind, index, preprocessor, reduction, fonts, camera = job
    scale = preprocessor.scale
    kind_name = {code: name for name, code in KIND_CODES.items()}[kind]
    rng = synthetic.sample_rng(seed, step, kind_name, index)
    shape = working_shape(CAMERA_SHAPE, scale)
    if kind_name == "natural":
        name = synthetic.NATURAL_TRAIN[index % len(synthetic.NATURAL_TRAIN)]
        pair = synthetic.natural_pair(step, name, rng, reduction=reduction, camera=camera)
        target = prepare_natural_target(pair.sharp, shape)
    else:
        pair = synthetic.text_pair(step, kind_name, rng, reduction=reduction, pool=fonts, camera=camera)
        target = prepare_target(pair.scene, scale / reduction, shape=shape)
    network_input = preprocessor(pair.blurred, step, shape)
    return network_input, target, (step, kind, index)


def build_synthetic(folder, steps, per_step, natural_fraction, seed, preprocessor, reduction=2,
                    workers=None, progress=True, fonts="look-alikes", camera="calibrated"):
    """Create (or resume filling) a synthetic cache in `folder` with inputs made by `preprocessor`
    (a `hdc.preprocessing.Preprocessor`), its text in the font pool `fonts`, its blurred cameras of the model
    `camera`. Returns the `Cache`."""
    import multiprocessing
    import os

    from tqdm import tqdm

    plan = synthetic_plan(steps, per_step, natural_fraction, seed)
    shape = working_shape(CAMERA_SHAPE, preprocessor.scale)
    source = {"kind": "synthetic", "seed": seed, "steps": list(steps), "per_step": per_step,
              "natural_fraction": natural_fraction, "reduction": reduction}
    if fonts != "look-alikes":  # the caches made before the options stay valid
        source["fonts"] = fonts
    if camera != "calibrated":
        source["camera"] = camera
    if (Path(folder) / INFO_NAME).is_file():
        cache = Cache(folder)
        cache.check(preprocessor, source)
    else:
        cache = Cache.create(folder, len(plan), shape, preprocessor, source)
    jobs = [(seed, step, kind, index, preprocessor, reduction, fonts, camera)
            for step, kind, index in plan[cache.count:]]
    if not jobs:
        return cache
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(plan), initial=cache.count, unit="sample", desc="cache", disable=not progress)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for position, (network_input, target, meta) in enumerate(pool.imap(synthetic_sample, jobs, chunksize=4)):
            cache.append(network_input, target, *meta)
            bar.update()
            if position % 50 == 49:
                cache.flush()
    cache.flush()
    bar.close()
    return cache


def build_real(folder, dataset_root, preprocessor, steps=None, progress=True):
    """Create (or resume filling) a cache from a real dataset folder in the official training layout,
    with inputs made by `preprocessor`."""
    from tqdm import tqdm

    from hdc.dataset import find_samples
    from hdc.io import read_image

    samples = find_samples(dataset_root, steps)
    if not samples:
        raise ValueError(f"no samples found in {dataset_root}")
    first = read_image(samples[0].blurred)
    scale = preprocessor.scale
    shape = working_shape(first.shape, scale)
    source = {"kind": "real", "root": str(Path(dataset_root).resolve()), "steps": sorted({s.step for s in samples})}
    if (Path(folder) / INFO_NAME).is_file():
        cache = Cache(folder)
        cache.check(preprocessor, source)
    else:
        cache = Cache.create(folder, len(samples), shape, preprocessor, source)
    for position, sample in enumerate(tqdm(samples[cache.count:], unit="sample", desc="cache", disable=not progress)):
        blurred, sharp = read_image(sample.blurred), read_image(sample.sharp)
        network_input = preprocessor(blurred, sample.step)
        if network_input.shape[:2] != tuple(shape):
            raise ValueError(f"{sample.blurred.name}: size differs from the first image of the dataset")
        if sample.kind == "natural":
            target = prepare_natural_target(sharp, shape)
        else:
            target = prepare_target(sharp, scale, shape=shape)
        key = sample.key if isinstance(sample.key, int) else position
        cache.append(network_input, target, sample.step, KIND_CODES[sample.kind], key)
        if position % 50 == 49:
            cache.flush()
    cache.flush()
    return cache
