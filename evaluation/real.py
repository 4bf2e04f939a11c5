"""Deblur and score real captures whose step is in their file name.

    python -m evaluation.real REAL_DIR OUTPUT_DIR [--method network|identity|wiener] [--weights DIR]

REAL_DIR holds blurred captures (TIFF, PNG or JPEG, e.g. the recovered
8-bit conversions in a ``CAM02`` folder) named ``focusStep_{N}_{font}_size_30_sample_{NNNN}``;
the step comes from the name. A true text is looked for next to the image
(``<name>.txt``) and in REAL_DIR/../text; images without one are deblurred
but not scored. Writes OUTPUT_DIR/<name>.png and OUTPUT_DIR/real.md.
"""

import argparse
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def find_captures(folder):
    """[(path, step, font, truth or None)] of the blurred text captures under `folder` (CAM02 preferred)."""
    from hdc.dataset import DatasetError, parse_name

    folder = Path(folder)
    candidates = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    blurred = [p for p in candidates if "CAM01" not in p.parts]
    captures = []
    for path in blurred:
        try:
            kind, step, font, _ = parse_name(path.stem)
        except (DatasetError, ValueError):
            continue
        if kind != "text":
            continue
        truth = next((t for t in (path.with_suffix(".txt"), folder.parent / "text" / f"{path.stem}.txt",
                                  folder / "text" / f"{path.stem}.txt") if t.is_file()), None)
        captures.append((path, step, font, truth))
    return captures


def method_for(name, weights=None, steps=()):
    """A callable (image, step) -> image: the network (as main.py runs it) or a baseline. The network's weights
    for `steps` are loaded here, so that a bad weights folder fails (`WeightsError`) before any image."""
    if name in ("identity", "wiener"):
        from evaluation.baselines import METHODS

        return METHODS[name]
    from hdc.inference import StepDeblurrers

    deblurrers = StepDeblurrers(weights)
    for step in steps:
        deblurrers(step)
    return lambda image, step: deblurrers(step)(image, step)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.real", description=__doc__.split("\n\n")[0])
    parser.add_argument("real_dir", metavar="REAL_DIR", type=Path)
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path)
    parser.add_argument("--method", default="network", choices=("network", "identity", "wiener"))
    parser.add_argument("--weights", type=Path)
    arguments = parser.parse_args(argv)
    from evaluation.scoring import score_image
    from hdc.io import ImageError, read_image, write_png
    from hdc.weights import WeightsError

    captures = find_captures(arguments.real_dir)
    if not captures:
        print(f"error: no blurred capture with an HDC2021 name in {arguments.real_dir}", file=sys.stderr)
        return 2
    try:
        method = method_for(arguments.method, arguments.weights, {step for _, step, _, _ in captures})
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"### Real captures: {arguments.method}", "",
             "| capture | step | input score | output score | OCR of the output (middle line) | truth |",
             "|---|---:|---:|---:|---|---|"]
    failures = 0
    for path, step, font, truth in captures:
        try:
            image = read_image(path)
            output = arguments.output_dir / f"{path.stem}.png"
            write_png(output, method(image, step))
        except (ImageError, WeightsError, OSError) as error:
            print(f"error: {path.name}: {str(error).removeprefix(path.name + ': ')}", file=sys.stderr)
            lines.append(f"| {path.name} | {step} | | | not processed: {error} | |")
            failures += 1
            continue
        if truth is None:
            lines.append(f"| {path.name} | {step} | | | | no true text |")
            continue
        before = arguments.output_dir / f"{path.stem}.input.png"
        from evaluation.baselines import identity

        write_png(before, identity(image, step))
        scored_input, scored = score_image(before, truth), score_image(output, truth)
        before.unlink()
        lines.append(f"| {path.name} | {step} | {scored_input.score} | {scored.score} | "
                     f"`{scored.middle if scored.three_lines else ' / '.join(scored.lines)}` | `{scored.truth}` |")
    (arguments.output_dir / "real.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
