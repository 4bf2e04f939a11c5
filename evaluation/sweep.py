"""What a wrong step does: one blurred image deblurred with every step value 0..19.

    python -m evaluation.sweep BLURRED_TIFF TRUE_STEP OUTPUT_PNG [--weights DIR]

Draws the 20 outputs (the central text area) in a grid, the true step on a
grey background, as in the seed article's Figures 9-16.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from hdc.preprocessing import normalize_contrast
from hdc.validation import STEPS


def sweep(image, weights_dir=None, steps=STEPS):
    """{step: deblurred (H, W) float32} for each step, as main.py would deblur `image` at that step."""
    from hdc.inference import StepDeblurrers

    deblurrers = StepDeblurrers(weights_dir)
    return {step: deblurrers(step)(image, step) for step in steps}


def figure(image, outputs, true_step, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = image.shape
    window = (slice(int(rows * 0.18), int(rows * 0.86)), slice(int(columns * 0.1), int(columns * 0.9)))
    panels = [("blurred input", normalize_contrast(image))] + \
        [(f"step {step}", output) for step, output in outputs.items()]
    grid_columns = 7
    grid_rows = int(np.ceil(len(panels) / grid_columns))
    plot, axes = plt.subplots(grid_rows, grid_columns, figsize=(2.6 * grid_columns, 1.7 * grid_rows))
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (label, picture) in zip(axes.ravel(), panels):
        axis.imshow(np.clip(picture[window], 0, 1), cmap="gray", vmin=0, vmax=1)
        axis.set_title(label, fontsize=9, fontweight="bold" if label == f"step {true_step}" else "normal")
        if label == f"step {true_step}":
            axis.set_facecolor("0.7")
            axis.axis("on")
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_linewidth(4)
                spine.set_edgecolor("0.5")
    plot.suptitle(title, fontsize=10)
    plot.tight_layout()
    plot.savefig(path, dpi=80)
    plt.close(plot)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("true_step", type=int)
    parser.add_argument("output", type=Path)
    parser.add_argument("--weights", type=Path)
    arguments = parser.parse_args(argv)
    from hdc.io import ImageError, read_image
    from hdc.weights import WeightsError

    try:
        image = read_image(arguments.image)
        outputs = sweep(image, arguments.weights)
    except (ImageError, WeightsError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    figure(image, outputs, arguments.true_step, arguments.output,
           f"{arguments.image.name}: outputs for every step (true step {arguments.true_step} framed)")
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
