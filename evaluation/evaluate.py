"""Score a folder of deblurred PNGs against the true texts, per step, with the stop rule.

    python -m evaluation.evaluate OUTPUT_DIR TRUTH_DIR [--output REPORT_DIR]

OUTPUT_DIR holds the PNGs (any depth, e.g. one folder per step); TRUTH_DIR
holds the true-text files (official training or test layout, or flat). Files
are matched by name (``focusStep_{N}_{font}_size_30_sample_{NNNN}``); the step
and font come from the name. Writes results.md, results.json and
percentiles.png to REPORT_DIR and prints the table.
"""

import argparse
import sys
from pathlib import Path

from evaluation.results import step_summary, write_reports
from evaluation.scoring import METHODS, score_many
from hdc.dataset import DatasetError, parse_name, read_text


def truth_files(folder):
    """{stem: path} of the true-text files under `folder`, preferring the sharp camera's copy."""
    found = {}
    for path in sorted(Path(folder).rglob("*.txt")):
        if path.stem not in found or "CAM01" in str(path.parent):
            found[path.stem] = path
    return found


def scored_pairs(output_dir, truth_dir):
    """(image, truth, step, font) for every PNG of a text capture that has a true text; plus skipped names."""
    truths = truth_files(truth_dir)
    pairs, skipped = [], []
    for image in sorted(Path(output_dir).rglob("*.png")):
        try:
            parsed = parse_name(image.stem)
        except DatasetError:
            skipped.append(image.name)
            continue
        if parsed[0] != "text" or image.stem not in truths:
            skipped.append(image.name)
            continue
        pairs.append((image, truths[image.stem], parsed[1], parsed[2]))
    return pairs, skipped


def missing_records(pairs, truth_dir, expected):
    """Records scoring 0 for the `expected` outputs ({stem: reason or ""}) that `pairs` lack."""
    truths, present = truth_files(truth_dir), {image.stem for image, _, _, _ in pairs}
    records = []
    for stem, reason in sorted(expected.items()):
        if stem in present or stem not in truths:
            continue
        _, step, font, _ = parse_name(stem)
        lines = read_text(truths[stem])
        records.append({"name": f"{stem}.png", "step": step, "font": font, "score": 0, "three_lines": False,
                        "ocr": [], "truth": lines[1] if len(lines) > 1 else "",
                        "problem": f"missing output{': ' + reason if reason else ''}"})
    return records


def evaluate(output_dir, truth_dir, report_dir=None, method="levenshtein", guard_white_point=False,
             workers=None, title=None, progress=True, expected=None):
    """Score, aggregate and (when `report_dir` is given) write the reports. Returns (records, summary, skipped).

    An unreadable PNG scores 0 and is named in the report. `expected` ({stem: reason}) names the text captures
    whose outputs should exist: each missing one scores 0 too, with the method's reason when it gave one.
    """
    pairs, skipped = scored_pairs(output_dir, truth_dir)
    missing = missing_records(pairs, truth_dir, expected or {})
    if not pairs and not missing:
        raise DatasetError(f"no PNG in {output_dir} has a true-text file in {truth_dir}")
    scores = score_many([(image, truth) for image, truth, _, _ in pairs], method, guard_white_point,
                        workers, progress)
    records = [{"name": image.name, "step": step, "font": font, "score": score.score,
                "three_lines": score.three_lines, "ocr": list(score.lines), "truth": score.truth,
                "problem": score.problem}
               for (image, _, step, font), score in zip(pairs, scores)] + missing
    summary = (write_reports(records, report_dir, title or f"OCR score: {Path(output_dir).name}")
               if report_dir else step_summary(records))
    return records, summary, skipped


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path)
    parser.add_argument("truth_dir", metavar="TRUTH_DIR", type=Path)
    parser.add_argument("--output", type=Path, default=None, help="report folder (default: OUTPUT_DIR/../scores)")
    parser.add_argument("--method", choices=METHODS, default="levenshtein",
                        help="fuzz.ratio backend: python-Levenshtein (default) or difflib's fallback")
    parser.add_argument("--guard-white-point", action="store_true",
                        help="deviation: clamp the white point to >= 50 as the winners' own scorer did")
    parser.add_argument("--workers", type=int, default=None)
    arguments = parser.parse_args(argv)
    for folder in (arguments.output_dir, arguments.truth_dir):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return 2
    report = arguments.output or arguments.output_dir.parent / "scores"
    try:
        _, summary, skipped = evaluate(arguments.output_dir, arguments.truth_dir, report, arguments.method,
                                       arguments.guard_white_point, arguments.workers)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print((report / "results.md").read_text())
    if skipped:
        print(f"({len(skipped)} PNG(s) without a true text were not scored, e.g. {skipped[0]})")
    print(f"reports in {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
