"""Per-step aggregation, the stop rule, and the reports (Markdown, JSON, percentile plot)."""

import json
import math
from pathlib import Path

import numpy as np

from evaluation.scoring import PASS_MARK


def step_summary(records):
    """Aggregate per-image records into per-step statistics.

    Parameters
    ----------
    records : iterable of dicts with "step", "font" and "score" (and "three_lines").

    Returns
    -------
    {step: {"mean", "count", "fonts": {font: mean}, "three_lines": fraction, "passed"}}.
    """
    by_step = {}
    for record in records:
        by_step.setdefault(int(record["step"]), []).append(record)
    summary = {}
    for step, items in sorted(by_step.items()):
        scores = np.array([item["score"] for item in items], dtype=float)
        fonts = {}
        for item in items:
            fonts.setdefault(item["font"], []).append(item["score"])
        mean = float(scores.mean())
        summary[step] = {"mean": mean, "count": len(items),
                         "fonts": {font: float(np.mean(values)) for font, values in sorted(fonts.items())},
                         "three_lines": float(np.mean([item.get("three_lines", True) for item in items])),
                         "passed": mean >= PASS_MARK}
    return summary


def stop_step(step_means, threshold=PASS_MARK):
    """The last step of the unbroken run of passes from step 0 (-1 if step 0 fails).

    A team starts at step 0 and goes on only while it passes: a pass after a
    failed (or missing) step does not count.
    """
    step = -1
    while step + 1 in step_means and step_means[step + 1] >= threshold:
        step += 1
    return step


def rank_key(step_means, threshold=PASS_MARK):
    """Sort key of the official ranking: the stop step, then the score there, then at the steps below."""
    stop = stop_step(step_means, threshold)
    return (stop,) + tuple(step_means.get(step, 0.0) for step in range(stop, -1, -1))


def markdown_table(summary, title="OCR score per step"):
    """A Markdown table of a `step_summary`, with the stop step."""
    fonts = sorted({font for row in summary.values() for font in row["fonts"]})
    lines = [f"### {title}", "", "| step | n | mean | " + " | ".join(fonts) + " | 3 lines | pass |",
             "|---:|---:|---:|" + "---:|" * len(fonts) + "---:|:---:|"]
    for step, row in summary.items():
        cells = " | ".join(f"{row['fonts'].get(font, math.nan):.1f}" for font in fonts)
        lines.append(f"| {step} | {row['count']} | {row['mean']:.1f} | {cells} | "
                     f"{100 * row['three_lines']:.0f} % | {'yes' if row['passed'] else 'no'} |")
    lines += ["", stop_sentence(summary)]
    return "\n".join(lines) + "\n"


def stop_sentence(summary):
    """The stop step of a `step_summary` in words; for a run that does not start at step 0 (a demo of one step),
    which of its steps pass instead, since the stop rule counts from step 0."""
    if 0 not in summary:
        verdicts = ", ".join(f"step {step} {'passed' if row['passed'] else 'failed'}" for step, row in summary.items())
        return (f"{verdicts} (pass mark {PASS_MARK:.0f}). No stop step: the rule counts passes from step 0, "
                "which this run does not include.")
    stop = stop_step({step: row["mean"] for step, row in summary.items()})
    return f"Stop step: **{stop}** (last step of the unbroken run of passes at {PASS_MARK:.0f} from step 0)."


def problems_section(records):
    """Markdown list of the outputs that scored 0 unread (unreadable or missing), or "" when there are none."""
    problems = [record for record in records if record.get("problem")]
    if not problems:
        return ""
    return ("\n### Outputs scored 0 without OCR\n\n"
            + "\n".join(f"- {record['name']} (step {record['step']}): {record['problem']}" for record in problems)
            + "\n")


def write_reports(records, folder, title="OCR score per step"):
    """Write results.json, results.md and percentiles.png for `records` into `folder`; returns the summary."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = step_summary(records)
    stop = stop_step({step: row["mean"] for step, row in summary.items()})
    (folder / "results.json").write_text(json.dumps(
        {"stop_step": stop, "steps": {str(k): v for k, v in summary.items()}, "images": list(records)}, indent=1))
    (folder / "results.md").write_text(markdown_table(summary, title) + problems_section(records))
    percentile_plot(records, folder / "percentiles.png", title)
    return summary


def percentile_plot(records, path, title):
    """Score percentiles per step, the 50th replaced by the mean (as the article's Figures 17-19)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_step = {}
    for record in records:
        by_step.setdefault(int(record["step"]), []).append(record["score"])
    percentiles = np.arange(0, 101, 10)
    figure, axes = plt.subplots(figsize=(8, 5))
    colours = plt.cm.viridis(np.linspace(0, 1, max(2, len(by_step))))
    for colour, (step, scores) in zip(colours, sorted(by_step.items())):
        values = np.percentile(scores, percentiles)
        values[percentiles == 50] = np.mean(scores)
        axes.plot(percentiles, values, "-o", color=colour, markersize=3, label=f"step {step}")
    axes.axhline(PASS_MARK, color="red", linestyle="--", linewidth=1)
    axes.set_xlabel("percentile (the value at 50 is the mean)")
    axes.set_ylabel("OCR score")
    axes.set_ylim(-2, 102)
    axes.set_title(title)
    axes.legend(fontsize=7, ncol=2, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
