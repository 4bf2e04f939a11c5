"""Run a method over every step of a test set, then score it (with the sanity check).

    python -m evaluation.run TEST_DIR RUN_DIR [--method network|auto|identity|wiener|"COMMAND"] [--steps 0-19]

TEST_DIR is in the official test or training layout. For each step, the
step's blurred TIFFs are linked into a scratch folder and the method is run
with the official signature ``METHOD INPUT_DIR OUTPUT_DIR STEP`` in a
subprocess, writing to RUN_DIR/outputs/step{N}. A step whose outputs all
exist is not run again, so an interrupted run resumes where it stopped.
Then RUN_DIR/scores gets the OCR reports and RUN_DIR/sanity the PSNR/SSIM
table of the natural images.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from hdc.cli import steps_argument
from hdc.dataset import DatasetError, find_samples
from hdc.validation import STEPS

ROOT = Path(__file__).resolve().parent.parent


def method_command(method, weights=None):
    """The command line (list) of a method: the network (at the true step, or "auto": at the step main.py
    estimates per image), a baseline, or any command with main.py's signature."""
    if method in ("network", "auto"):
        return [sys.executable, str(ROOT / "main.py"), "--quiet"] + (["--weights", str(weights)] if weights else [])
    if method in ("identity", "wiener"):
        return [sys.executable, "-m", "evaluation.baselines", method]
    return shlex.split(method)


def run_step(command, samples, output_dir, step):
    """Run `command` on the blurred images of `samples` (one step; `step` is its STEP argument, an int or
    "auto") unless all outputs exist.

    Returns {stem: reason} of the inputs the method reported as failed (its ``error: NAME: reason`` lines on
    exit code 1); {} when every output was written or already there. Any other exit code raises RuntimeError.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    if all((output_dir / f"{s.stem}.png").is_file() for s in samples):
        return {}
    with tempfile.TemporaryDirectory() as scratch:
        for sample in samples:
            os.symlink(sample.blurred.resolve(), Path(scratch) / sample.blurred.name)
        result = subprocess.run(command + [scratch, str(output_dir), str(step)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"step {step}: {' '.join(command)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return reported_failures(result.stderr)


def reported_failures(stderr):
    """{stem: reason} from a method's ``error: NAME: reason`` lines (main.py's format for a failed input)."""
    failures = {}
    for line in stderr.splitlines():
        name, separator, reason = line.removeprefix("error: ").partition(": ")
        if line.startswith("error: ") and separator:
            failures[Path(name).stem] = reason
    return failures


def run_method(test_dir, run_dir, method="network", steps=STEPS, weights=None, progress=True):
    """Run a method over the steps of a test set into RUN_DIR/outputs/step{N}.

    Returns the samples and the {stem: reason or ""} of every text capture's expected output, with the
    method's reason for those it reported as failed (`evaluation.evaluate.evaluate`'s `expected`)."""
    from tqdm import tqdm

    samples = find_samples(test_dir, set(steps))
    command = method_command(method, weights)
    failures = {}
    for step in tqdm(sorted({s.step for s in samples}), desc=f"{method}", unit="step", disable=not progress):
        failures.update(run_step(command, [s for s in samples if s.step == step],
                                 Path(run_dir) / "outputs" / f"step{step}", "auto" if method == "auto" else step))
    expected = {s.stem: failures.get(s.stem, "") for s in samples if s.kind != "natural"}
    return samples, expected


def natural_groups(samples):
    """The natural-image samples by the report they go to: "sanity" (scikit-image photographs), and for the
    unseen set (`hdc.unseen`) "sanity-photographs" and "sanity-targets"."""
    groups = {}
    for sample in samples:
        if sample.kind == "natural":
            prefix = str(sample.key).split("_")[0]
            group = {"photo": "sanity-photographs", "target": "sanity-targets"}.get(prefix, "sanity")
            groups.setdefault(group, []).append(sample)
    return groups


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("test_dir", metavar="TEST_DIR", type=Path)
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    parser.add_argument("--method", default="network",
                        help="network (main.py), auto (main.py estimating each image's step), identity, wiener, or a "
                             "command taking INPUT_DIR OUTPUT_DIR STEP")
    parser.add_argument("--weights", type=Path, help="weights folder for the network (default: weights/)")
    parser.add_argument("--steps", type=steps_argument, default=list(STEPS))
    parser.add_argument("--name", help="name of the method in the reports (default: RUN_DIR's name)")
    arguments = parser.parse_args(argv)
    from evaluation.evaluate import evaluate
    from evaluation.sanity import sanity_check

    try:
        samples, expected = run_method(arguments.test_dir, arguments.run_dir, arguments.method, arguments.steps,
                                       arguments.weights)
        name = arguments.name or arguments.run_dir.name
        reports = []
        if expected:  # a set of natural images only (the unseen sanity set) has no text to score
            evaluate(arguments.run_dir / "outputs", arguments.test_dir, arguments.run_dir / "scores",
                     title=f"OCR score: {name}", expected=expected)
            reports.append(arguments.run_dir / "scores" / "results.md")
        for group, members in natural_groups(samples).items():
            sanity_check(members, arguments.run_dir / "outputs", arguments.run_dir / group, f"{name}, {group}")
            reports.append(arguments.run_dir / group / "sanity.md")
    except (DatasetError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.read_text() for report in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
