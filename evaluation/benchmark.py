"""Speed benchmark: main.py against the I/O floor, its stages, precision, OCR and training, side by side.

    python -m evaluation.benchmark [--images 12] [--repeats 3] [--output docs/benchmark]

On N full-size (2360 x 1460, 16-bit) synthetic TIFFs, in one run:
- the I/O floor: read each TIFF and write a PNG of the same size, nothing in between;
- the inference pipeline of main.py (weights loaded and traced once, warm-up excluded), and its
  ratio to the floor, the figure to drive down; the same with BLAS's own thread count (main.py limits BLAS
  to one thread while its stages overlap); the same with STEP auto (each image's step estimated), and its
  ratio to the given step's;
- main.py end to end as a command (start-up and weight loading included), seconds per image;
- each stage alone: read, the banding check (weights with destripe), downscale, background fit, median filters,
  radius estimate (weights with radius_source estimated), aperture fit (weights with aperture; sharing the
  estimate's spectra and the paper decision, as in the pipeline), Wiener channel,
  data consistency's input,
  model, upscale, finish with data consistency, PNG write;
- the model in float32 vs mixed_bfloat16 (time and largest output difference), tf.function vs predict;
- peak memory of main.py over 10 and over 200 images;
- OCR scoring, images per second; training, crops per second (a short fixed run).
Medians of the repeats. Writes benchmark.json and benchmark.md with the CPU count and library versions.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def median_time(function, repeats):
    """Median wall time (s) of `function()` over `repeats` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_inputs(folder, count, step, seed=4242):
    """`count` full-size synthetic CAM02 TIFFs of `step` (and their texts) in `folder`."""
    from hdc.synthetic import main as synthetic_main

    per_font = (count + 1) // 2
    synthetic_main([str(folder), "--steps", str(step), "--per-font", str(per_font), "--seed", str(seed),
                    "--layout", "test", "--natural", "0", "--workers", str(os.cpu_count() or 1)])
    files = sorted((folder / f"steps_{step - step % 5}_to_{step - step % 5 + 4}" / "CAM02_blurred").glob("*.tif"))
    return files[:count]


def blur_model_of_its_own(function, per_image):
    """`function`, made to forget `hdc.preprocessing.cosine_transfers` before each call when `per_image`: with
    per-image radii (radius_source estimated) each image of a run pays for its own blur model; with the step's
    radii they are made once per run."""
    from hdc.preprocessing import cosine_transfers

    def call(*arguments):
        if per_image:
            cosine_transfers.cache_clear()
        return function(*arguments)
    return call


def peak_memory(input_dir, output_dir, step, weights):
    """Peak resident memory (MiB) of main.py run as a child process."""
    code = ("import resource, sys, main; code = main.main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    command = [sys.executable, "-c", code, str(input_dir), str(output_dir), str(step), "--quiet"]
    if weights:
        command += ["--weights", str(weights)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def stage_times(files, deblurrer, step, repeats):
    """Seconds per stage, each timed alone on the first image."""
    from hdc.estimate import Spectra, estimate_radius
    from hdc.io import read_image, write_png
    from hdc.preprocessing import downscale, flatten_background, median_stack

    image = read_image(files[0])
    small = downscale(image, deblurrer.preprocessor.scale)
    fit = deblurrer.preprocessor.fit_for(small.shape)
    flat, _ = flatten_background(small, fit)
    prepared = deblurrer.prepare(image, step)
    result = deblurrer.infer(prepared, step)
    finished = deblurrer.finish(result, image.shape)
    scratch = Path(tempfile.mkdtemp()) / "stage.png"
    preprocessor = deblurrer.preprocessor
    radii = preprocessor.blur_radii(image, step)
    spectra, paper = Spectra(image), preprocessor.paper_border(image)
    estimate_radius(image, spectra=spectra)  # the spectra the pipeline's radius estimate makes and shares
    estimate, per_image = {}, preprocessor.radius_source == "estimated"
    if per_image:
        estimate = {"radius estimate (radius_source estimated)": median_time(
            lambda: preprocessor.estimated_radius(image, step), repeats)}
    cleaning = {} if not preprocessor.destripe else {"banding check (destripe)": median_time(
        lambda: preprocessor.clean(image), repeats)}
    aperture = {} if not preprocessor.aperture else {"aperture fit (aperture, spectra shared)": median_time(
        lambda: preprocessor.blur_kernel(image, step, spectra=spectra, paper=paper), repeats)}
    wiener = {} if preprocessor.wiener_balance is None else {"Wiener channel": median_time(
        lambda: blur_model_of_its_own(preprocessor.wiener_channel, per_image)(flat, radii), repeats)}
    consistency, finish = {}, {}
    if deblurrer.consistency is not None:
        consistency = {"data consistency's input (downscale, background)": median_time(
            lambda: deblurrer.postprocessor.observe(image, step, prepared.paper, radii), repeats)}
        finish = {"finish with data consistency": median_time(
            lambda: blur_model_of_its_own(deblurrer.finish, per_image)(result, image.shape), repeats)}
    return {
        "read TIFF": median_time(lambda: read_image(files[0]), repeats),
        **cleaning,
        "downscale": median_time(lambda: downscale(image, deblurrer.preprocessor.scale), repeats),
        "background fit": median_time(lambda: flatten_background(small, fit), repeats),
        "median filters": median_time(lambda: median_stack(flat, deblurrer.preprocessor.median_widths), repeats),
        **estimate,
        **aperture,
        **wiener,
        **consistency,
        "model": median_time(lambda: deblurrer.infer(prepared, step), repeats),
        "upscale (finish, without data consistency)": median_time(
            lambda: deblurrer.with_consistency(None).finish(result, image.shape), repeats),
        **finish,
        "PNG write": median_time(lambda: write_png(scratch, finished), repeats),
    }


def precision_comparison(files, spec, step, repeats):
    """Model time in float32 and mixed_bfloat16, tf.function vs predict, and the largest output difference."""
    from hdc.inference import Deblurrer
    from hdc.io import read_image

    full = Deblurrer(spec, "float32")
    mixed = Deblurrer(spec, "mixed_bfloat16")
    prepared = [full.prepare(read_image(path), step) for path in files[:4]]
    differences = [np.abs(full.infer(p, step).output - mixed.infer(p, step).output) for p in prepared]
    batch = [prepared[0].network_input[None], np.array([[float(step)]], np.float32)]
    return {"float32 tf.function (s)": median_time(lambda: full.infer(prepared[0], step), repeats),
            "mixed_bfloat16 tf.function (s)": median_time(lambda: mixed.infer(prepared[0], step), repeats),
            "float32 model.predict (s)": median_time(lambda: full.model.predict(batch, verbose=0), repeats),
            "largest output difference, bf16 vs float32 (of 1)": max(float(d.max()) for d in differences),
            "mean output difference, bf16 vs float32 (of 1)": float(np.mean([d.mean() for d in differences]))}


def training_rate(architecture, batches=20, crop=160, batch=16):
    """Crops per second of the training step of `architecture` in float32 and mixed_bfloat16 (random data,
    fixed run)."""
    import keras
    import tensorflow as tf

    from hdc.model import build_model

    rates = {}
    rng = np.random.default_rng(0)
    inputs = rng.normal(scale=0.2, size=(batch, crop, crop, architecture.channels)).astype(np.float32)
    out = crop - 2 * architecture.border
    targets = rng.random((batch, out, out, 1)).astype(np.float32)
    steps = rng.integers(0, 20, (batch, 1)).astype(np.float32)
    for policy in ("float32", "mixed_bfloat16"):
        model = build_model(architecture, policy)
        optimizer = keras.optimizers.Adam(10 ** -2.5)
        loss = keras.losses.BinaryCrossentropy()

        @tf.function
        def train_step():
            with tf.GradientTape() as tape:
                value = loss(targets, model([inputs, steps], training=True))
            optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
            return value

        train_step()
        start = time.perf_counter()
        for _ in range(batches):
            train_step()
        rates[policy] = batches * batch / (time.perf_counter() - start)
    return rates


def versions():
    import importlib.metadata as metadata

    names = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "scipy", "scikit-image", "pillow", "tifffile",
             "pytesseract", "Levenshtein")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        found["tesseract"] = subprocess.run(["tesseract", "--version"], capture_output=True,
                                            text=True).stdout.split("\n")[0]
    except OSError:
        found["tesseract"] = "not installed"
    return found


def run(count, repeats, step, weights=None, output=None, train_batches=20):
    from hdc.inference import AutoDeblurrer, Deblurrer, StepDeblurrers, resolve_precision
    from hdc.io import read_image, write_png
    from hdc.pipeline import deblur_files
    from hdc.weights import consistency_for, default_weights_dir, model_spec

    spec = model_spec(weights or default_weights_dir(), step)
    consistency = consistency_for(weights or default_weights_dir(), step)
    results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                           "python": platform.python_version()},
               "versions": versions(), "images": count, "repeats": repeats, "step": step,
               "weights": spec.path.name, "main.py precision": resolve_precision("auto")}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        files = make_inputs(scratch / "data", count, step)
        deblurrer = Deblurrer(spec, resolve_precision("auto"), consistency)
        out = scratch / "out"
        out.mkdir()
        floor = median_time(lambda: deblur_files(files, out, step, lambda image, s: image, progress=False),
                            repeats) / count
        pipeline = median_time(lambda: deblur_files(files, out, step, deblurrer, progress=False), repeats) / count
        blas_free = median_time(lambda: deblur_files(files, out, step, deblurrer, progress=False, blas_threads=None),
                                repeats) / count
        auto = AutoDeblurrer(StepDeblurrers(weights, resolve_precision("auto")))
        estimated = median_time(lambda: deblur_files(files, out, None, auto, progress=False), repeats) / count
        sequential = median_time(lambda: [write_png(out / f"{p.stem}.png", deblurrer(read_image(p), step))
                                          for p in files], 1) / count
        command = [sys.executable, str(ROOT / "main.py"), str(files[0].parent), str(out), str(step), "--quiet"]
        if weights:
            command += ["--weights", str(weights)]
        end_to_end = median_time(lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True),
                                 max(1, repeats // 2)) / count
        results["per image (s)"] = {"I/O floor: read TIFF + write PNG": floor,
                                    "main.py pipeline (warm, overlapped)": pipeline,
                                    "the same, BLAS threads not limited to one": blas_free,
                                    "the same with STEP auto (each image's step estimated)": estimated,
                                    "main.py stages run one after another, PNG write included (warm)": sequential,
                                    "main.py as a command (start-up and loading included)": end_to_end}
        results["ratio pipeline / I/O floor"] = pipeline / floor
        results["ratio auto / given step"] = estimated / pipeline
        results["stages (s)"] = stage_times(files, deblurrer, step, repeats)
        results["precision"] = precision_comparison(files, spec, step, repeats)
        many = scratch / "many"
        many.mkdir()
        for index in range(200):
            os.symlink(files[index % len(files)], many / f"image_{index:03d}.tif")
        few = scratch / "few"
        few.mkdir()
        for path in sorted(many.iterdir())[:10]:
            os.symlink(os.readlink(path), few / path.name)
        results["peak memory (MiB)"] = {"10 images": peak_memory(few, scratch / "o10", step, weights),
                                        "200 images": peak_memory(many, scratch / "o200", step, weights)}
        from evaluation.scoring import score_many

        truth = {p.stem: p for p in (files[0].parent.parent / "CAM01_focused").glob("*.txt")}
        pairs = [(out / f"{p.stem}.png", truth[p.stem]) for p in files]
        ocr_seconds = median_time(lambda: score_many(pairs), 1)
        results["OCR scoring (images/s)"] = len(pairs) / ocr_seconds
    results["training (crops/s, 160x160, batch 16)"] = training_rate(spec.architecture, train_batches)
    if output:
        write(results, Path(output))
    return results


def write(results, folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Benchmark", "", f"`python -m evaluation.benchmark`, {results['images']} full-size synthetic "
             f"images of step {results['step']}, medians of {results['repeats']} runs, "
             f"{results['machine']['cpus']} CPUs ({results['machine']['processor']}), weights "
             f"`{results['weights']}`, main.py's precision `{results['main.py precision']}` (`--precision auto`).",
             "", "| per image | seconds |", "|---|---:|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in results["per image (s)"].items()]
    lines += ["", f"**Ratio of the main.py pipeline to the I/O floor: {results['ratio pipeline / I/O floor']:.2f}**",
              "", f"Ratio of STEP auto to the given step: {results['ratio auto / given step']:.2f}.",
              "", "| stage (alone) | seconds |", "|---|---:|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in results["stages (s)"].items()]
    lines += ["", "| model precision | value |", "|---|---:|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in results["precision"].items()]
    memory = results["peak memory (MiB)"]
    lines += ["", f"Peak memory of main.py: {memory['10 images']:.0f} MiB over 10 images, "
              f"{memory['200 images']:.0f} MiB over 200 images.", "",
              f"OCR scoring: {results['OCR scoring (images/s)']:.1f} images/s. Training: " +
              ", ".join(f"{policy} {rate:.1f} crops/s" for policy, rate in
                        results["training (crops/s, 160x160, batch 16)"].items()) + ".", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "."]
    (folder / "benchmark.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", type=int, default=7)
    parser.add_argument("--weights", type=Path, help="weights folder (default: the shipped weights/)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmark")
    parser.add_argument("--train-batches", type=int, default=20)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run(arguments.images, arguments.repeats, arguments.step, arguments.weights, arguments.output,
        arguments.train_batches)
    print((arguments.output / "benchmark.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
