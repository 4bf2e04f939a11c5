"""Validate the blur-step estimator (`hdc.estimate`) on real and synthetic captures.

    python -m evaluation.estimation [--real REAL_DIR] [--test TEST_DIR [--seed SEED]] [--output docs/estimation]

REAL_DIR is a folder like the recovered ``hdc2021-real`` (``thumbnails/``: 10x reduced captures, ``full/CAM02``:
full-size ones); TEST_DIR a synthetic test set. Thumbnails are estimated at their own scale with the candidate
radii divided by 10, and the radius is reported in full-size pixels. Writes estimation.md (tables per step:
exact and within-one-step rates, the radius found against the nominal one) and confusion.png.
"""

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hdc.validation import STEPS

ROOT = Path(__file__).resolve().parent.parent
THUMBNAIL_REDUCTION = 10
STEP_OF_NAME = re.compile(r"focusStep_(\d+)_")


def thumbnail_rows(folder):
    """(name, true step, radius in full-size pixels, confidence) of each 10x thumbnail in `folder`."""
    from hdc.estimate import SCALES, Spectra, radius_at_scale
    from hdc.io import read_image

    candidates = np.concatenate([radii for _, radii, _ in SCALES]) / THUMBNAIL_REDUCTION
    rows = []
    for path in sorted(Path(folder).glob("focusStep_*.png"), key=lambda p: int(STEP_OF_NAME.match(p.name)[1])):
        radius, confidence = radius_at_scale(Spectra(read_image(path)), 1, candidates)
        rows.append((path.name, int(STEP_OF_NAME.match(path.name)[1]), radius * THUMBNAIL_REDUCTION, confidence))
    return rows


def full_rows(folder):
    """(name, true step, radius, confidence) of each full-size capture in `folder`."""
    from hdc.estimate import estimate
    from hdc.io import read_image

    rows = []
    for path in sorted(Path(folder).glob("focusStep_*.png")) + sorted(Path(folder).glob("focusStep_*.tif")):
        found = estimate(read_image(path))
        rows.append((path.name, int(STEP_OF_NAME.match(path.name)[1]), found.radius, found.confidence))
    return rows


class Found(NamedTuple):
    """One test capture's estimate: its step and radius (full-size pixels), and the radius the generator drew
    for it (None when the test set's seed is not given)."""
    step: int
    radius: float
    drawn: float = None


def test_set_estimates(test_dir, seed=None, progress=True):
    """{(true step, "text" or "natural"): [`Found`]} over a synthetic test set; with the `seed` it was made with,
    each capture's drawn radius is replayed (`hdc.synthetic.drawn_radius`)."""
    from tqdm import tqdm

    from hdc.dataset import find_samples
    from hdc.estimate import estimate
    from hdc.io import read_image
    from hdc.synthetic import drawn_radius

    found = defaultdict(list)
    for sample in tqdm(find_samples(test_dir), unit="image", disable=not progress):
        kind = "natural" if sample.kind == "natural" else "text"
        value = estimate(read_image(sample.blurred))
        drawn = None if seed is None else drawn_radius("test", seed, sample.step, sample.kind, sample.key)
        found[(sample.step, kind)].append(Found(value.step, value.radius, drawn))
    return found


def rates(true_step, estimates):
    """(exact rate, within-one-step rate) of `estimates` for `true_step`."""
    estimates = np.asarray(estimates)
    return float(np.mean(estimates == true_step)), float(np.mean(np.abs(estimates - true_step) <= 1))


def real_table(title, rows, reduction=1):
    """Markdown rows of real captures; with a `reduction`, the steps whose nominal disc is under 2 pixels at
    that scale (no zero ring to see) are counted apart."""
    from hdc.estimate import step_for_radius
    from hdc.physics import NOMINAL_RADIUS, RADIUS_RANGE

    lines = [f"### {title}", "", ("| capture | true step | radius found (px) | nominal radius | training draws "
                                  "| step found | confidence |"), "|---|---:|---:|---:|---:|---:|---:|"]
    for name, step, radius, confidence in rows:
        low, high = RADIUS_RANGE[step]
        inside = "" if low <= radius <= high else " (outside)"
        lines.append(f"| {name} | {step} | {radius:.0f} | {NOMINAL_RADIUS[step]:.0f} | {low:.0f}-{high:.0f}{inside} "
                     f"| {step_for_radius(radius)} | {confidence:.2f} |")
    measurable = [row for row in rows if NOMINAL_RADIUS[row[1]] / reduction >= 2]
    within = sum(abs(step_for_radius(radius) - step) <= 1 for _, step, radius, _ in measurable)
    exact = sum(step_for_radius(radius) == step for _, step, radius, _ in measurable)
    unmeasured = sorted({step for _, step, _, _ in rows} - {step for _, step, _, _ in measurable})
    note = (f" Steps {', '.join(map(str, unmeasured))} are left out: at 1:{reduction} their disc is under 2 "
            "pixels, too small to show a zero ring." if unmeasured else "")
    return lines + ["", f"Exact: {exact} of {len(measurable)}; within one step: {within} of {len(measurable)}."
                    + note, ""]


def radius_ceiling(step, points=2001):
    """(exact, within-one-step) rates that a perfect radius estimator reaches at `step` on our generator: the
    share of its radius draws (uniform over `hdc.physics.RADIUS_RANGE`) whose nearest nominal radius is the
    step itself, or within one step. Where the draws of adjacent steps overlap, no estimator of the radius
    alone can do better."""
    from hdc.estimate import step_for_radius
    from hdc.physics import RADIUS_RANGE

    found = np.array([step_for_radius(radius) for radius in np.linspace(*RADIUS_RANGE[step], points)])
    return float(np.mean(found == step)), float(np.mean(np.abs(found - step) <= 1))


def best_rule_ceiling(points=20001):
    """The within-one-step rate per step (array of 20) of the best rule that maps a radius to a step, on our
    generator: each step's radii are drawn uniformly over `hdc.physics.RADIUS_RANGE`, and at each radius the
    rule picks the step whose neighbourhood (itself and the steps on either side) holds the most probability.
    No estimator of the radius alone, however exact, can place more captures within one step."""
    from hdc.physics import RADIUS_RANGE

    low, high = np.array(RADIUS_RANGE).T
    radii = np.exp(np.linspace(np.log(low.min()), np.log(high.max()), points))
    density = ((radii >= low[:, None]) & (radii <= high[:, None])) / (high - low)[:, None]
    neighbourhood = np.array([density[max(0, step - 1):step + 2].sum(axis=0) for step in STEPS])
    chosen = np.argmax(neighbourhood, axis=0)
    weights = density * np.gradient(radii)
    kept = np.abs(chosen[None, :] - np.array(STEPS)[:, None]) <= 1
    return (weights * kept).sum(axis=1) / weights.sum(axis=1)


def synthetic_table(found):
    """Markdown of the synthetic test set's estimates (`test_set_estimates`): per step, exact and within-one rates
    against the step, the exact radius estimator's ceiling and the best rule's (`best_rule_ceiling`), and with
    drawn radii the rates against the step whose nominal radius is nearest the drawn one and the share of radii
    found within 10 % of it."""
    drawn = all(each.drawn is not None for values in found.values() for each in values)
    lines = ["### Synthetic test set", "",
             ("Exact radius: what an exact radius estimator would reach, the share of the step's radius draws "
              "(`hdc.physics.RADIUS_RANGE`) whose nearest nominal radius is the step, or within one step "
              "(`evaluation.estimation.radius_ceiling`). Where adjacent steps' draws overlap, the radius alone "
              "cannot tell them apart; a biased estimator can land above it by chance. Any rule: the within-one "
              "rate of the best rule from an exact radius to a step on these draws "
              "(`evaluation.estimation.best_rule_ceiling`), the most any estimator of the radius alone can reach.")]
    if drawn:
        lines += ["", ("Drawn radius: against the radius the generator drew for each text capture (replayed from "
                       "the test set's seed, `hdc.synthetic.drawn_radius`), the estimator itself: the estimated "
                       "step within one of the step whose nominal radius is nearest the drawn one, and the "
                       "estimated radius within 10 % of the drawn one.")]
    header = ("| step | text: n | exact | within one | natural: n | exact | within one | exact radius: exact "
              "| within one | any rule: within one |")
    lines += ["", header + (" drawn radius: step within one | radius within 10 % |" if drawn else ""),
              "|---:" * (10 + 2 * drawn) + "|"]
    best = best_rule_ceiling()
    for step in STEPS:
        cells = []
        for kind in ("text", "natural"):
            estimates = [each.step for each in found.get((step, kind), [])]
            exact, within = rates(step, estimates) if estimates else (float("nan"), float("nan"))
            cells.append(f"{len(estimates)} | {100 * exact:.0f} % | {100 * within:.0f} %")
        ceiling_exact, ceiling_within = radius_ceiling(step)
        cells.append(f"{100 * ceiling_exact:.0f} % | {100 * ceiling_within:.0f} % | {100 * best[step]:.0f} %")
        if drawn:
            text = found.get((step, "text"), [])
            cells.append(f"{100 * drawn_within(text):.0f} % | {100 * radius_close(text):.0f} %")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    text = [each for (step, kind), values in found.items() if kind == "text" for each in values]
    truth = [step for (step, kind), values in found.items() if kind == "text" for _ in values]
    within = np.mean(np.abs(np.subtract([each.step for each in text], truth)) <= 1) if text else float("nan")
    ceiling = np.mean([radius_ceiling(step)[1] for step in truth]) if truth else float("nan")
    lines += ["", (f"Text captures within one step: {100 * within:.1f} % of {len(text)} (an exact radius "
                   f"estimator on these draws: {100 * ceiling:.1f} %; with the best rule from radius to step: "
                   f"{100 * np.mean(best[truth]):.1f} %).")]
    if drawn and text:
        lines[-1] += (f" Within one step of the drawn radius's step: {100 * drawn_within(text):.1f} %; radius "
                      f"within 10 % of the drawn one: {100 * radius_close(text):.1f} %.")
    return lines + [""]


def drawn_within(values):
    """The share of `Found` `values` whose step is within one of the step of their drawn radius."""
    from hdc.estimate import step_for_radius

    return float(np.mean([abs(each.step - step_for_radius(each.drawn)) <= 1 for each in values])) if values else 0.0


def radius_close(values, tolerance=0.1):
    """The share of `Found` `values` whose radius is within `tolerance` (relative) of their drawn radius."""
    return float(np.mean([abs(each.radius / each.drawn - 1) <= tolerance for each in values])) if values else 0.0


def confusion_figure(found, path):
    """A 20x20 confusion matrix of the text captures: true step (rows) against estimated step (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.zeros((len(STEPS), len(STEPS)))
    for (step, kind), estimates in found.items():
        if kind == "text":
            for estimate in estimates:
                matrix[step, estimate.step] += 1
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(6, 5.5))
    image = axes.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    axes.set_xlabel("estimated step")
    axes.set_ylabel("true step")
    axes.set_xticks(STEPS)
    axes.set_yticks(STEPS)
    axes.set_title("blur-step estimation, synthetic text captures")
    figure.colorbar(image, ax=axes, label="share of the true step's captures")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.estimation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, metavar="REAL_DIR", help="recovered real captures (thumbnails/, full/)")
    parser.add_argument("--test", type=Path, metavar="TEST_DIR", help="a synthetic test set")
    parser.add_argument("--seed", type=int, help="the seed TEST_DIR was made with (hdc.synthetic --seed): also "
                                                  "compare each estimate with the radius drawn for the capture")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "estimation")
    arguments = parser.parse_args(argv)
    if not (arguments.real or arguments.test):
        parser.error("give --real, --test or both")
    for folder in (arguments.real, arguments.test):
        if folder is not None and not folder.is_dir():
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return 2
    arguments.output.mkdir(parents=True, exist_ok=True)
    lines = ["## Blur-step estimation (`hdc.estimate`)", ""]
    if arguments.real:
        lines += real_table("Real captures, 10x thumbnails (radii in full-size pixels)",
                            thumbnail_rows(arguments.real / "thumbnails"), THUMBNAIL_REDUCTION)
        lines += real_table("Real captures, full size", full_rows(arguments.real / "full" / "CAM02"))
    if arguments.test:
        found = test_set_estimates(arguments.test, arguments.seed)
        lines += synthetic_table(found)
        confusion_figure(found, arguments.output / "confusion.png")
        lines += ["![confusion](confusion.png)", ""]
    (arguments.output / "estimation.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
