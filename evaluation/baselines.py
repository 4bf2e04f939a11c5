"""Baselines with main.py's signature: the blurred input itself, and Wiener deconvolution with the known PSF.

    python -m evaluation.baselines identity INPUT_DIR OUTPUT_DIR STEP
    python -m evaluation.baselines wiener INPUT_DIR OUTPUT_DIR STEP
    python -m evaluation.baselines tune TUNING_DIR...   # choose Wiener's balance per step by OCR score

The Wiener baseline divides out the vignetting (the same background fit as
the network's preprocessing), deconvolves at half resolution with a round
disc of the nominal radius of the step (`hdc.physics.NOMINAL_RADIUS`) using
scikit-image's `restoration.wiener` filter (`hdc.preprocessing.wiener_deconvolve`), and upscales back. Its
regularization weight per step comes from `wiener_balance.json`, chosen by ``tune`` on a
synthetic set made with a seed disjoint from the test set's.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hdc.physics import NOMINAL_RADIUS
from hdc.preprocessing import BackgroundFit, background, normalize_contrast, resize, wiener_deconvolve

BALANCE_FILE = Path(__file__).resolve().parent / "wiener_balance.json"
BALANCE_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def identity(image, step):
    """The blurred input, contrast-normalized: its 99.5th percentile becomes white. (H, W) float32 in [0, 1]."""
    return normalize_contrast(image)


def wiener(image, step, balance=None, reduction=2):
    """Wiener deconvolution with the nominal disc PSF of `step`; (H, W) float32 in [0, 1] in and out.

    balance : regularization weight (default: the tuned value of the step).
    reduction : work at 1/reduction of the input resolution (the scorer reads at 1/2 anyway).
    """
    if balance is None:
        balance = tuned_balance(step)
    shape = (max(8, round(image.shape[0] / reduction)), max(8, round(image.shape[1] / reduction)))
    small = resize(image, shape, "box")
    flat = small / background(small, BackgroundFit(shape))[0]
    restored = wiener_deconvolve(flat, NOMINAL_RADIUS[step] / reduction, balance)
    return np.clip(resize(restored.astype(np.float32), image.shape, "bicubic"), 0.0, 1.0)


def tuned_balance(step, path=BALANCE_FILE):
    """The tuned Wiener balance of `step` (0.03 if the table is missing)."""
    if not Path(path).is_file():
        return 0.03
    return float(json.loads(Path(path).read_text())["balance"][str(step)])


METHODS = {"identity": identity, "wiener": wiener}


def tune(tuning_dirs, grid=BALANCE_GRID, workers=None, progress=True):
    """Pick Wiener's balance per step by the mean OCR score on tuning sets (folders in the training or test
    layout; ties go to the larger balance).

    Returns {"balance": {step: value}, "scores": {step: {balance: mean score}}}.
    """
    import tempfile

    from tqdm import tqdm

    from evaluation.scoring import score_many
    from hdc.dataset import find_samples
    from hdc.io import read_image, write_png

    samples = [s for folder in tuning_dirs for s in find_samples(folder) if s.kind != "natural"]
    steps = sorted({s.step for s in samples})
    result = {"balance": {}, "scores": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for step in tqdm(steps, desc="tune", unit="step", disable=not progress):
            pairs_by_balance = {}
            for sample in (s for s in samples if s.step == step):
                image = read_image(sample.blurred)
                for balance in grid:
                    path = Path(scratch) / f"{len(pairs_by_balance.get(balance, []))}_{balance}.png"
                    write_png(path, wiener(image, step, balance))
                    pairs_by_balance.setdefault(balance, []).append((path, sample.text))
            means = {balance: float(np.mean([r.score for r in score_many(pairs, workers=workers)]))
                     for balance, pairs in pairs_by_balance.items()}
            result["scores"][str(step)] = {str(b): round(m, 2) for b, m in means.items()}
            best = max(means.values())
            result["balance"][str(step)] = max(b for b, m in means.items() if m == best)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("method", choices=sorted(METHODS) + ["tune"])
    parser.add_argument("paths", nargs="+", help="INPUT_DIR OUTPUT_DIR STEP, or TUNING_DIR... for tune")
    arguments = parser.parse_args(argv)
    if arguments.method == "tune":
        result = tune(arguments.paths)
        result["tuning_sets"] = [Path(path).name for path in arguments.paths]
        BALANCE_FILE.write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result["balance"]))
        return 0
    if len(arguments.paths) != 3:
        parser.error("a baseline takes INPUT_DIR OUTPUT_DIR STEP")
    from hdc.cli import UsageError, fail, input_files, parse_step, prepare_output, report_files
    from hdc.pipeline import deblur_files

    try:
        step = parse_step(arguments.paths[2])
        files = input_files(arguments.paths[0])
        output_dir = prepare_output(arguments.paths[1])
    except UsageError as error:
        return fail(error)
    written, failures = deblur_files(files, output_dir, step, METHODS[arguments.method], progress=len(files) > 1)
    return report_files(f"{arguments.method}, step {step}: wrote {written} PNG(s), {len(failures)} failed", failures)


if __name__ == "__main__":
    sys.exit(main())
