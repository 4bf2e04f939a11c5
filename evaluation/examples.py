"""Input / output / target examples side by side (as the seed article's Figure 8).

    python -m evaluation.examples TEST_DIR RUN_DIR OUTPUT_PNG [--steps 3,5,7,9,11,13] [--font Verdana]
    python -m evaluation.examples TEST_DIR RUN_DIR OUTPUT_PNG --natural camera     # a sanity image, whole frame

RUN_DIR is a folder written by ``python -m evaluation.run`` (outputs/step{N}/<name>.png).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from hdc.cli import steps_argument
from hdc.preprocessing import normalize_contrast


def crop_middle_line(image):
    """The band of the middle text line: rows 40-62 %, columns 12-88 % of the frame."""
    rows, columns = image.shape
    return image[int(rows * 0.40):int(rows * 0.62), int(columns * 0.12):int(columns * 0.88)]


def figure(test_dir, run_dir, path, steps, font="Verdana", sample=1, natural=None):
    """Rows of (blurred, output, sharp) for `steps`: the middle text line of `font`'s `sample`, or the whole
    frame of the natural image `natural` (a sanity image's name, e.g. "camera")."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hdc.dataset import find_samples
    from hdc.io import read_image

    if natural:
        chosen = {s.step: s for s in find_samples(test_dir, set(steps))
                  if s.kind == "natural" and s.stem.endswith(f"_Image_{natural}")}
        crop, height = (lambda image: image), 2.6
    else:
        chosen = {s.step: s for s in find_samples(test_dir, set(steps)) if s.kind == font and s.key == sample}
        crop, height = crop_middle_line, 1.3
    if not chosen:
        raise ValueError(f"no {natural or font} sample at steps {steps} in {test_dir}")
    steps = [step for step in steps if step in chosen]
    plot, axes = plt.subplots(len(steps), 3, figsize=(12, height * len(steps)))
    axes = np.atleast_2d(axes)
    for row, step in enumerate(steps):
        item = chosen[step]
        output = Path(run_dir) / "outputs" / f"step{step}" / f"{item.stem}.png"
        panels = (normalize_contrast(read_image(item.blurred)), read_image(output), normalize_contrast(read_image(item.sharp)))
        for column, panel in enumerate(panels):
            axes[row, column].imshow(crop(panel), cmap="gray", vmin=0, vmax=1)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[row, 0].set_ylabel(f"step {step}", fontsize=9)
    for column, title in enumerate(("blurred input (CAM02)", f"output ({Path(run_dir).name})", "sharp target (CAM01)")):
        axes[0, column].set_title(title, fontsize=10)
    plot.tight_layout(pad=0.3)
    plot.savefig(path, dpi=90)
    plt.close(plot)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--steps", type=steps_argument, default=[3, 5, 7, 9, 11, 13])
    parser.add_argument("--font", choices=("Times", "Verdana"), default="Verdana")
    parser.add_argument("--natural", metavar="NAME", help="show the natural (sanity) image NAME instead of text")
    arguments = parser.parse_args(argv)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure(arguments.test_dir, arguments.run_dir, arguments.output, arguments.steps, arguments.font,
               natural=arguments.natural)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
