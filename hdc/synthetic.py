"""Synthetic HDC2021 data: text and natural-image pairs through the camera model.

Command line::

    python -m hdc.synthetic OUT_DIR --steps 0-19 --per-font N --seed S [--layout train|test]

writes 16-bit TIFF pairs (2360 x 1460) and their true text in the official
training layout (``step{N}/{Times,Verdana}/{CAM01,CAM02}/...``) or test layout
(``steps_0_to_4/{CAM01_focused,CAM02_blurred}/...``), plus natural "sanity"
images. Every sample has its own random generator seeded by (seed, step,
font, sample), so the output does not depend on the number of workers.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from hdc import physics, text
from hdc.cli import steps_argument
from hdc.unseen import TUNING, UNSEEN
from hdc.validation import STEPS

FONT_IDS = {"Times": "timesR", "Verdana": "verdanaRef"}
KIND_CODES = {"Times": 0, "Verdana": 1, "natural": 2}

# scikit-image's bundled photographs (no download needed), split so that the
# sanity test set never shows an image used in training.
NATURAL_TRAIN = ("astronaut", "brick", "chelsea", "coins", "gravel", "immunohistochemistry",
                 "rocket", "page", "horse", "cell")
NATURAL_TEST = ("camera", "coffee", "grass", "hubble_deep_field", "moon", "clock",
                "retina", "checkerboard")


@dataclasses.dataclass
class Pair:
    """One synthetic capture pair.

    blurred : (H, W) float32 in [0, 1], the CAM02 capture.
    sharp : (H, W) float32 in [0, 1], the CAM01 capture.
    scene : (H, W) float32 in [0, 1], the sharp scene in CAM02's geometry
        (a perfectly aligned training target).
    lines : the three lines of text, or None for a natural image.
    radius : the disc radius drawn for CAM02, in full-size pixels.
    """

    blurred: np.ndarray
    sharp: np.ndarray
    scene: np.ndarray
    lines: list = None
    radius: float = None


def sample_rng(seed, step, kind, sample):
    """The generator of one sample, from (seed, step, kind, sample)."""
    return np.random.default_rng([seed, step, KIND_CODES[kind], sample])


def frame_shape(reduction=1):
    """Camera frame (rows, columns) simulated at 1/`reduction` of the full resolution."""
    return tuple(int(round(n / reduction)) for n in physics.CAMERA_SHAPE)


def reduce_camera(camera, reduction):
    """The same camera simulated at 1/`reduction` resolution (PSF and noise rescaled)."""
    if reduction == 1:
        return camera
    from hdc.preprocessing import resize

    size = max(1, int(round(camera.psf.shape[0] / reduction)) | 1)
    psf = np.clip(resize(camera.psf.astype(np.float32), (size, size), "box"), 0.0, None).astype(np.float64)
    return dataclasses.replace(camera, psf=psf / psf.sum(), read_sigma=camera.read_sigma / reduction,
                               shot_gain=camera.shot_gain / reduction ** 2,
                               banding=camera.banding / np.sqrt(reduction))


def reduce_geometry(geometry, reduction):
    return dataclasses.replace(geometry, pixels_per_display=geometry.pixels_per_display / reduction)


def text_pair(step, kind, rng, primary_font=False, nominal=False, reduction=1, lines=None, family=None,
              pool="look-alikes", camera="calibrated", camera_shift=None):
    """A synthetic text `Pair` for blur `step` and font `kind` ("Times" or "Verdana").

    primary_font : use the primary look-alike font (as in the official-layout
        files) instead of a random one from the pool.
    family : an installed font family to draw instead of the look-alikes (the same draws as the primary
        font's otherwise: a font-shift test).
    pool : the fonts drawn from without `primary_font` (`hdc.text.font_paths`: "look-alikes", "wide" or "varied").
    nominal : nominal radius and round aperture instead of randomized physics.
    reduction : simulate at 1/reduction of the full resolution (for fast training data).
    camera : "calibrated", "varied" (`hdc.physics.vary_camera`) or "noisy" (`hdc.physics.noisy_camera`), drawn
        from a generator spawned from `rng`.
    camera_shift : a kind of `hdc.physics.shift_camera` applied to the blurred camera, drawn from a generator
        spawned from `rng` (so that the other draws stay the same: a camera-shift test).
    """
    lines = lines or text.random_text(rng)
    layout = text.draw_layout(kind, rng, primary_only=primary_font, family=family, pool=pool)
    display = text.render_display(lines, layout)
    shape = frame_shape(reduction)
    sharp_geometry = text.draw_geometry(rng)
    blurred_geometry = text.draw_geometry(rng, relative_to=sharp_geometry)
    ink = rng.uniform(0.08, 0.16)
    sharp_scene = text.sample_scene(display, reduce_geometry(sharp_geometry, reduction), ink, shape)
    scene = text.sample_scene(display, reduce_geometry(blurred_geometry, reduction), ink, shape)
    blurred_camera = blurred_camera_for(step, rng, nominal, camera)
    if camera_shift:
        blurred_camera = physics.shift_camera(blurred_camera, camera_shift, rng.spawn(1)[0])
    blurred_camera = reduce_camera(blurred_camera, reduction)
    sharp_camera = reduce_camera(physics.draw_sharp_camera(rng), reduction)
    return Pair(blurred=physics.capture(scene, blurred_camera, rng),
                sharp=physics.capture(sharp_scene, sharp_camera, rng), scene=scene, lines=lines,
                radius=blurred_camera.radius)


def natural_image(name):
    """A bundled scikit-image photograph, or an image of `hdc.unseen` (a sanity or tuning image), as gray
    float32 in [0, 1]."""
    from hdc import unseen

    if natural_set(name):
        return unseen.unseen_image(name)
    from skimage import data

    from hdc.io import to_gray_float

    loader = getattr(data, name)
    return to_gray_float(loader())


def natural_scene(image, rng, shape, augment=True):
    """Fit a natural image to the camera frame (random crop, flip and contrast when `augment`)."""
    from hdc.preprocessing import resize

    rows, columns = image.shape
    target_ratio = shape[1] / shape[0]
    if columns / rows > target_ratio:
        width, height = int(rows * target_ratio), rows
    else:
        width, height = columns, int(columns / target_ratio)
    if augment:
        zoom = rng.uniform(0.7, 1.0)
        width, height = max(8, int(width * zoom)), max(8, int(height * zoom))
    top = int(rng.integers(0, rows - height + 1)) if augment else (rows - height) // 2
    left = int(rng.integers(0, columns - width + 1)) if augment else (columns - width) // 2
    crop = image[top:top + height, left:left + width]
    if augment and rng.random() < 0.5:
        crop = crop[:, ::-1]
    scene = resize(crop, shape, "bicubic")
    if augment:
        scene = np.clip((scene - 0.5) * rng.uniform(0.7, 1.2) + 0.5 + rng.uniform(-0.1, 0.1), 0.0, 1.0)
    return (0.05 + 0.95 * np.clip(scene, 0.0, 1.0)).astype(np.float32)


def blurred_camera_for(step, rng, nominal=False, camera="calibrated"):
    """The blurred camera of a pair: `hdc.physics.draw_blurred_camera`'s, drawn wider for `camera` "varied" or
    "noisy" from a generator spawned from `rng` (the other draws stay the same)."""
    drawn = physics.draw_blurred_camera(step, rng, nominal)
    wider = {"varied": physics.vary_camera, "noisy": physics.noisy_camera}.get(camera)
    return drawn if wider is None else wider(drawn, rng.spawn(1)[0])


def natural_pair(step, name, rng, nominal=False, reduction=1, augment=True, camera="calibrated"):
    """A synthetic natural-image `Pair` (the sanity check's kind of image); `camera` as `text_pair`'s."""
    shape = frame_shape(reduction)
    scene = natural_scene(natural_image(name), rng, shape, augment)
    blurred_camera = reduce_camera(blurred_camera_for(step, rng, nominal, camera), reduction)
    sharp_camera = reduce_camera(physics.draw_sharp_camera(rng), reduction)
    return Pair(blurred=physics.capture(scene, blurred_camera, rng),
                sharp=physics.capture(scene, sharp_camera, rng), scene=scene, radius=blurred_camera.radius)


def text_name(step, kind, sample):
    """Official file stem, e.g. ``focusStep_7_timesR_size_30_sample_0012``."""
    return f"focusStep_{step}_{FONT_IDS[kind]}_size_30_sample_{sample:04d}"


def natural_name(step, name):
    """File stem of a sanity image, e.g. ``focusStep_7_Image_moon``."""
    return f"focusStep_{step}_Image_{name}"


def test_group(step):
    """Official test-layout folder of a step, e.g. ``steps_5_to_9``."""
    low = step - step % 5
    return f"steps_{low}_to_{low + 4}"


def destinations(root, layout, step, kind, stem):
    """(blurred TIFF, sharp TIFF, list of text paths) for one sample in `layout` ("train" or "test")."""
    root = Path(root)
    if layout == "train":
        folder = root / f"step{step}" / ("Sanity" if kind == "natural" else kind)
        blurred, sharp = folder / "CAM02" / f"{stem}.tif", folder / "CAM01" / f"{stem}.tif"
        texts = [blurred.with_suffix(".txt"), sharp.with_suffix(".txt")]
    else:
        folder = root / test_group(step)
        blurred, sharp = folder / "CAM02_blurred" / f"{stem}.tif", folder / "CAM01_focused" / f"{stem}.tif"
        texts = [sharp.with_suffix(".txt")]
    return blurred, sharp, texts


def sample_pair(layout, seed, step, kind, item, reduction=1, families=None, camera_shift=None):
    """The `Pair` of one sample as ``python -m hdc.synthetic`` writes it in `layout` with `seed`: `kind` "Times",
    "Verdana" (`item` the sample number) or "natural" (`item` the image name), at 1/`reduction` of the full
    resolution (the draws, the radius among them, do not depend on it); `families` ({kind: family}) draws the
    text in other families than the look-alikes, with the same draws otherwise; `camera_shift` (a kind of
    `hdc.physics.shift_camera`) changes the blurred camera of text samples, with the same draws otherwise."""
    if kind == "natural":
        index = natural_names(layout, natural_set(item)).index(item)
        return natural_pair(step, item, sample_rng(seed, step, kind, index), augment=layout != "test",
                            reduction=reduction)
    return text_pair(step, kind, sample_rng(seed, step, kind, item), primary_font=True, reduction=reduction,
                     family=(families or {}).get(kind), camera_shift=camera_shift)


def drawn_radius(layout, seed, step, kind, item):
    """The CAM02 disc radius (full-size pixels) that ``python -m hdc.synthetic`` drew for one sample (see
    `sample_pair`), replayed at 1/16 of the resolution: what an exact radius estimator would find."""
    return sample_pair(layout, seed, step, kind, item, reduction=16).radius


def write_job(job):
    """Make and write one sample; `job` = (root, layout, seed, step, kind, sample_or_name, families, camera_shift)
    (the last two as `sample_pair`'s). Returns its stem."""
    from hdc.io import write_tiff16

    root, layout, seed, step, kind, item, families, camera_shift = job
    pair = sample_pair(layout, seed, step, kind, item, families=families, camera_shift=camera_shift)
    stem = natural_name(step, item) if kind == "natural" else text_name(step, kind, item)
    blurred, sharp, texts = destinations(root, layout, step, kind, stem)
    for path in (blurred, sharp):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_tiff16(blurred, pair.blurred)
    write_tiff16(sharp, pair.sharp)
    if pair.lines is not None:
        for path in texts:
            path.write_text("\n".join(pair.lines))
    return stem


def natural_set(name):
    """Which of `hdc.unseen`'s sets the natural image `name` is in ("unseen" or "tuning"), or None (scikit-image's
    training and test photographs)."""
    return "unseen" if name in UNSEEN else "tuning" if name in TUNING else None


def natural_names(layout, other=None):
    """The natural images of a layout: the training photographs, the test ones, or those of `hdc.unseen`
    (`other`: "unseen", the second sanity set, or "tuning", the data consistency's tuning images)."""
    if other == "unseen":
        return UNSEEN
    if other == "tuning":
        return TUNING
    return NATURAL_TEST if layout == "test" else NATURAL_TRAIN


def jobs_for(root, layout, steps, per_font, natural, seed, other=None, families=None, camera_shift=None):
    jobs = []
    for step in steps:
        for kind in ("Times", "Verdana"):
            jobs.extend((root, layout, seed, step, kind, sample, families, camera_shift)
                        for sample in range(1, per_font + 1))
        jobs.extend((root, layout, seed, step, "natural", name, families, camera_shift)
                    for name in natural_names(layout, other)[:natural])
    return jobs


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hdc.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("output", metavar="OUT_DIR", type=Path)
    parser.add_argument("--steps", type=steps_argument, default=list(STEPS), help="e.g. 0-19 (default) or 3,5-7")
    parser.add_argument("--per-font", type=int, default=20, help="text samples per font and step (default 20)")
    parser.add_argument("--natural", type=int, default=None,
                        help="sanity images per step (default: all 8 for --layout test, none for train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=("train", "test"), default="train")
    parser.add_argument("--unseen", action="store_true",
                        help="natural images from hdc.unseen (photographs of another source, technical targets) "
                             "instead of scikit-image's: a sanity set the network never saw")
    parser.add_argument("--tuning", action="store_true",
                        help="natural images of hdc.unseen.TUNING (in no training or sanity set), for tuning the "
                             "data consistency")
    parser.add_argument("--fonts", metavar="TIMES,VERDANA",
                        help="draw the Times and the Verdana samples in these two installed font families instead of "
                             "the look-alikes, with the same draws otherwise (a font-shift test set, e.g. "
                             "'P052,URW Gothic'); file names keep timesR and verdanaRef")
    parser.add_argument("--camera-shift", choices=physics.CAMERA_SHIFTS,
                        help="change the blurred camera of the text samples beyond what the calibrated cameras draw, "
                             "with the same draws otherwise (a camera-shift test set; hdc.physics.shift_camera)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    arguments = parser.parse_args(argv)
    if arguments.per_font < 0:
        parser.error(f"--per-font must be >= 0, got {arguments.per_font}")
    if arguments.unseen and arguments.tuning:
        parser.error("choose --unseen or --tuning, not both")
    other = "unseen" if arguments.unseen else "tuning" if arguments.tuning else None
    names = natural_names(arguments.layout, other)
    natural = arguments.natural if arguments.natural is not None else (
        len(names) if arguments.layout == "test" or other else 0)
    if not 0 <= natural <= len(names):
        parser.error(f"--natural must be in 0..{len(names)} for --layout {arguments.layout}, got {natural}")
    families = None
    if arguments.fonts is not None:
        names = [name.strip() for name in arguments.fonts.split(",")]
        if len(names) != 2 or not all(names):
            parser.error(f"--fonts takes two font families, TIMES,VERDANA; got {arguments.fonts!r}")
        families = dict(zip(("Times", "Verdana"), names))
    try:
        for kind in ("Times", "Verdana"):
            text.font_paths(kind, family=(families or {}).get(kind))
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    jobs = jobs_for(arguments.output, arguments.layout, arguments.steps, arguments.per_font, natural, arguments.seed,
                    other, families, arguments.camera_shift)
    start = time.perf_counter()
    run_jobs(jobs, arguments.workers)
    seconds = time.perf_counter() - start
    print(f"wrote {len(jobs)} pairs to {arguments.output} in {seconds:.1f} s ({len(jobs) / seconds:.2f} pairs/s)")
    return 0


def run_jobs(jobs, workers=None):
    """Run `write_job` over `jobs` in a process pool with a progress bar."""
    import multiprocessing
    import os

    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) <= 1:
        for job in tqdm(jobs, unit="pair", disable=len(jobs) <= 1):
            write_job(job)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in tqdm(pool.imap_unordered(write_job, jobs), total=len(jobs), unit="pair"):
            pass


if __name__ == "__main__":
    sys.exit(main())
