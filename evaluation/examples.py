"""Input / output / target examples side by side (as the seed article's Figure 8).

    python -m evaluation.examples TEST_DIR RUN_DIR OUTPUT_PNG [--steps 3,5,7,9,11,13] [--font Verdana]
    python -m evaluation.examples TEST_DIR RUN_DIR OUTPUT_PNG --natural camera     # a sanity image, whole frame
    python -m evaluation.examples TEST_DIR RUN_DIR OUTPUT_PNG --natural camera,target_qr,target_star \
        --more UNSEEN_DIR UNSEEN_RUN_DIR                                           # images of several sets

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


def find_natural(sources, name, steps):
    """{step: (sample, run_dir)} of the natural image `name` in the first (test_dir, run_dir) of `sources` that
    has it."""
    from hdc.dataset import find_samples

    for test_dir, run_dir in sources:
        found = {s.step: (s, run_dir) for s in find_samples(test_dir, set(steps))
                 if s.kind == "natural" and s.stem.endswith(f"_Image_{name}")}
        if found:
            return found
    raise ValueError(f"no natural image {name} at steps {steps} in {', '.join(str(t) for t, _ in sources)}")


def figure(sources, path, steps, font="Verdana", sample=1, naturals=()):
    """Rows of (blurred, output, sharp) for `steps`: the middle text line of `font`'s `sample` in the first of
    `sources` ((test_dir, run_dir) pairs), or the whole frames of the natural images `naturals` (sanity
    images' names, e.g. "camera", "target_qr"), side by side, each from the first source that has it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hdc.dataset import find_samples
    from hdc.io import read_image

    if naturals:
        columns = [find_natural(sources, name, steps) for name in naturals]
        crop, height, width = (lambda image: image), 2.6, 12
    else:
        test_dir, run_dir = sources[0]
        columns = [{s.step: (s, run_dir) for s in find_samples(test_dir, set(steps))
                    if s.kind == font and s.key == sample}]
        if not columns[0]:
            raise ValueError(f"no {font} sample at steps {steps} in {test_dir}")
        crop, height, width = crop_middle_line, 1.3, 12
    steps = [step for step in steps if all(step in column for column in columns)]
    plot, axes = plt.subplots(len(steps), 3 * len(columns), figsize=(width * len(columns), height * len(steps)),
                              squeeze=False)
    for row, step in enumerate(steps):
        for group, column in enumerate(columns):
            item, run_dir = column[step]
            output = Path(run_dir) / "outputs" / f"step{step}" / f"{item.stem}.png"
            panels = (normalize_contrast(read_image(item.blurred)), read_image(output),
                      normalize_contrast(read_image(item.sharp)))
            for offset, panel in enumerate(panels):
                axis = axes[row, 3 * group + offset]
                axis.imshow(crop(panel), cmap="gray", vmin=0, vmax=1)
                axis.set_xticks([])
                axis.set_yticks([])
                if row == 0:
                    axis.set_title(("blurred input (CAM02)", f"output ({Path(run_dir).name})",
                                    "sharp target (CAM01)")[offset], fontsize=10)
        axes[row, 0].set_ylabel(f"step {step}", fontsize=9)
    plot.tight_layout(pad=0.3)
    plot.savefig(path, dpi=90 if len(columns) == 1 else 60)
    plt.close(plot)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--steps", type=steps_argument, default=[3, 5, 7, 9, 11, 13])
    parser.add_argument("--font", choices=("Times", "Verdana"), default="Verdana")
    parser.add_argument("--natural", metavar="NAME[,NAME...]", type=lambda text: text.split(","), default=(),
                        help="show these natural (sanity) images, side by side, instead of text")
    parser.add_argument("--more", nargs=2, action="append", default=[], metavar=("TEST_DIR", "RUN_DIR"),
                        help="another test set and its run where --natural images are looked for")
    arguments = parser.parse_args(argv)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        sources = [(arguments.test_dir, arguments.run_dir)] + [(Path(t), Path(r)) for t, r in arguments.more]
        figure(sources, arguments.output, arguments.steps, arguments.font, naturals=arguments.natural)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
