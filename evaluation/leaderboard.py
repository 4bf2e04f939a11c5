"""A local leaderboard: our runs and the published HDC2021 results, ranked by the official rule.

    python -m evaluation.leaderboard RUN_DIR [RUN_DIR ...] [--output docs/leaderboard] [--against NAME]

Each RUN_DIR is a folder written by ``python -m evaluation.run`` (it holds
scores/results.json); its per-step, sanity and real-capture tables follow the
ranking in leaderboard.md. They are also kept in OUTPUT/runs/<name>/, in the
same layout, so that a kept folder is itself a RUN_DIR: a leaderboard can be
made again from measured rows without running their methods again. Methods are ranked by the stop step, then the mean
score at the stop step, then at the steps below (the official tie-break).
The published results (evaluation/data/published_results.csv, from the seed
article's Table 1) were measured on the real test set and only give scores
at steps 4, 6 and 8: they are listed for orientation, marked, and ranked
with what is known.

A mean over a few dozen captures moves by a point when Tesseract misreads one letter in a few: the paired
table gives each of our runs' difference to one reference run (``--against``, by default ``wiener`` when it is
ranked), capture by capture over the captures both scored, with its standard error, so that a gap within the
noise reads as one.
"""

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from evaluation.results import rank_key, stop_step

ROOT = Path(__file__).resolve().parent.parent  # the repository: default outputs go to its docs/

PUBLISHED = Path(__file__).resolve().parent / "data" / "published_results.csv"
SHOWN_STEPS = (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 19)


def read_run(run_dir, name=None):
    """{"name", "source", "means": {step: mean}} of an evaluation.run folder."""
    path = Path(run_dir) / "scores" / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no scores/results.json (run python -m evaluation.run first)")
    results = json.loads(path.read_text())
    means = {int(step): row["mean"] for step, row in results["steps"].items()}
    scores = {(record["step"], record["name"]): record["score"] for record in results.get("images", [])}
    return {"name": name or Path(run_dir).name, "source": "ours, synthetic test set", "means": means,
            "stop": stop_step(means), "scores": scores}


def read_published(path=PUBLISHED):
    """The published entries, with their stop step and the known step means."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(line for line in stream if not line.startswith("#")))
    entries = []
    for order, row in enumerate(rows):
        means = {step: float(row[f"score_step{step}"]) for step in (4, 6, 8)}
        entries.append({"name": f"{row['team']} ({row['institution']})", "source": "published, real test set",
                        "means": means, "stop": int(row["stop_step"]), "order": order})
    return entries


def published_key(entry):
    """Rank key of a published entry: its stop step, then its score there.

    Where the score at the stop step is not published, the entry ranks above
    any of ours with the same stop step (the conservative choice), and the
    published entries keep the organizers' order among themselves.
    """
    return (entry["stop"], entry["means"].get(entry["stop"], float("inf")), -entry["order"])


def ranked(entries):
    def key(entry):
        if entry["source"].startswith("published"):
            return published_key(entry)
        key = rank_key(entry["means"])
        return key[:2] + (0,) + key[2:]
    return sorted(entries, key=key, reverse=True)


def stop_label(entry):
    """The stop step of an entry as shown: none ("") for a run of ours that has no step 0, from which the
    official rule counts."""
    return str(entry["stop"]) if entry["source"].startswith("published") or 0 in entry["means"] else ""


def measured_steps(entries):
    """The steps (sorted) at which any of `entries` has a score."""
    return sorted({step for entry in entries for step in entry["means"]})


def markdown(entries):
    shown = [step for step in SHOWN_STEPS if step in measured_steps(entries)]
    header = "| rank | method | source | stop step | " + " | ".join(f"step {s}" for s in shown) + " |"
    published = any(entry["source"].startswith("published") for entry in entries)
    lines = ["## Local leaderboard", "",
             "Ranked by the official rule: stop step, then the mean score at the stop step, then at the steps "
             "below." + (" Published entries were scored by the organizers on the **real** test set; ours on a "
                         "**synthetic** test set (see the README, Results): compare with care." if published else ""),
             "", header, "|---:|---|---|---:|" + "---:|" * len(shown)]
    for rank, entry in enumerate(ranked(entries), start=1):
        cells = " | ".join(f"{entry['means'][s]:.1f}" if s in entry["means"] else "" for s in shown)
        lines.append(f"| {rank} | {entry['name']} | {entry['source']} | {stop_label(entry)} | {cells} |")
    return "\n".join(lines) + "\n" + every_step(entries)


def every_step(entries):
    """The table of our runs side by side at every measured step, in rank order ("" without runs of ours)."""
    ours = [entry for entry in ranked(entries) if not entry["source"].startswith("published")]
    if not ours:
        return ""
    steps = measured_steps(entries)
    lines = ["", "### Our runs at every step", "",
             "| method | stop step | " + " | ".join(str(step) for step in steps) + " |",
             "|---|---:|" + "---:|" * len(steps)]
    for entry in ours:
        cells = " | ".join(f"{entry['means'][step]:.1f}" if step in entry["means"] else "" for step in steps)
        lines.append(f"| {entry['name']} | {stop_label(entry)} | {cells} |")
    return "\n".join(lines) + "\n"


def paired_differences(entry, reference):
    """{step: (mean difference, standard error, captures)} of `entry`'s OCR scores minus `reference`'s over
    the captures both scored (runs read by `read_run`); steps with fewer than two such captures are left out."""
    differences = {}
    for (step, name), score in entry["scores"].items():
        if (step, name) in reference["scores"]:
            differences.setdefault(step, []).append(score - reference["scores"][(step, name)])
    return {step: (float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values))), len(values))
            for step, values in sorted(differences.items()) if len(values) > 1}


def paired_table(entries, reference_name):
    """Markdown of each of our runs' `paired_differences` to the run named `reference_name` at every measured step
    ("" when it is not among them); a difference within two standard errors is marked as a tie."""
    ours = [entry for entry in ranked(entries) if "scores" in entry]
    reference = next((entry for entry in ours if entry["name"] == reference_name), None)
    if reference is None:
        return ""
    steps = measured_steps(ours)
    lines = ["", f"### Against {reference_name}, capture by capture", "",
             f"Mean OCR score minus {reference_name}'s over the same captures, ± its standard error; *tie*: within "
             "two standard errors, a gap this set's size cannot tell from Tesseract's noise.", "",
             "| method | " + " | ".join(str(step) for step in steps) + " |", "|---|" + "---:|" * len(steps)]
    for entry in ours:
        if entry is reference:
            continue
        found = paired_differences(entry, reference)
        cells = []
        for step in steps:
            if step not in found:
                cells.append("")
                continue
            mean, error, _ = found[step]
            cells.append(f"{mean:+.1f} ± {error:.1f}" + (" *tie*" if abs(mean) <= 2 * error else ""))
        lines.append(f"| {entry['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# What a run folder keeps for the leaderboard (relative paths; the sanity folders of a set with several kinds
# of natural images are named sanity-<kind>).
RECORD = ("scores/results.json", "scores/results.md", "scores/percentiles.png", "sanity*/sanity.md",
          "sanity*/sanity.json", "real/real.md")


def details(runs):
    """The per-step, sanity and real-capture tables of our runs, as written by evaluation.run and evaluation.real."""
    parts = []
    for run in runs:
        for pattern in ("scores/results.md", "sanity*/sanity.md", "real/real.md"):
            parts.extend(path.read_text() for path in sorted(Path(run).glob(pattern)))
    return ("\n## Details of our runs\n\n" + "\n".join(parts)) if parts else ""


def keep_record(run, folder):
    """Copy the `RECORD` files of the run folder `run` into `folder` (same layout), unless it is that folder."""
    run, folder = Path(run), Path(folder)
    if folder.exists() and folder.resolve() == run.resolve():
        return
    for pattern in RECORD:
        for path in run.glob(pattern):
            destination = folder / path.relative_to(run)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def plot(entries, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5))
    # 20 distinct colours, the ten strong ones first: the default cycle repeats after 10 entries
    palette = plt.get_cmap("tab20").colors
    colours = palette[0::2] + palette[1::2]
    for index, entry in enumerate(entries):
        steps = sorted(entry["means"])
        values = [entry["means"][s] for s in steps]
        colour = colours[index % len(colours)]
        if entry["source"].startswith("published"):
            axes.plot(steps, values, ":", marker="s", markersize=4, alpha=0.6, color=colour,
                      label=f"{entry['name']} [published]")
        else:
            stop = f" (stop {stop_label(entry)})" if stop_label(entry) else ""
            axes.plot(steps, values, "-o", linewidth=2, markersize=4, color=colour, label=f"{entry['name']}{stop}")
    axes.axhline(70, color="red", linestyle="--", linewidth=1)
    axes.set_xlabel("blur step")
    axes.set_ylabel("mean OCR score")
    axes.set_xticks(measured_steps(entries))
    axes.set_ylim(-2, 102)
    axes.legend(fontsize=6, loc="lower left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.leaderboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="folders written by python -m evaluation.run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "leaderboard")
    parser.add_argument("--no-published", action="store_true", help="leave out the published results")
    parser.add_argument("--against", default="wiener", metavar="NAME",
                        help="the run (by folder name) the paired table compares with (default: wiener)")
    arguments = parser.parse_args(argv)
    try:
        entries = [read_run(run) for run in arguments.runs]
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not arguments.no_published:
        entries += read_published()
    if not entries:
        print("error: nothing to rank", file=sys.stderr)
        return 2
    arguments.output.mkdir(parents=True, exist_ok=True)
    table = markdown(entries) + paired_table(entries, arguments.against) + details(arguments.runs)
    (arguments.output / "leaderboard.md").write_text(table)
    plot(entries, arguments.output / "leaderboard.png")
    for run in arguments.runs:
        keep_record(run, arguments.output / "runs" / run.name)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
