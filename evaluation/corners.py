"""Does the network draw marks into empty corners when the flattened paper is not flat?

    python -m evaluation.corners TEST_DIR [--weights DIR] [--step 15] [--count 10] [--lifts 0,0.02,0.05]
                                 [--patch PIXELS]

Real captures leave a residual after the background division (a glare halo, a tilt of a hundredth or two at the
corners) where our synthetic ones are flat; a network that reads such a residual as ink draws a grey mark into a
corner, which Tesseract reads as a fourth line, and the page scores 0. This probe takes the first `count` text
captures of `step` in TEST_DIR, lifts the flattened paper of the network's input by each of `lifts` (the inputs'
channels times 1 + lift about the ink level, `hdc.train.batches.with_paper_field`, as the training's shading
does) and prints, per lift, the median and the worst over the captures of the darkest pixel in the four corners
(a sixth of the height by an eighth of the width) of the network's raw output: 1.00 is white paper, below about
0.6 a mark.
With `--patch`, only squares of that many working-scale pixels at the four corners of the (padded) input are
lifted: the real step-14 captures' corners, whose flattened paper is darker by about 0.035 over their outermost
10-30 pixels (`--patch 30 --lifts=0,-0.02,-0.035`).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

LIFTS = (0.0, 0.02, 0.05)


def corner_minimum(output):
    """The darkest value in the four corners of `output` (h, w), each a sixth of the height by an eighth of the
    width."""
    rows, columns = output.shape
    height, width = max(1, rows // 6), max(1, columns // 8)
    return float(min(output[:height, :width].min(), output[:height, -width:].min(),
                     output[-height:, :width].min(), output[-height:, -width:].min()))


def lifted(network_input, lift, patch=None):
    """`network_input` (h, w, channels), flattened paper at 0 and ink at -1, with its paper lifted by `lift`
    (`hdc.train.batches.with_paper_field`); everywhere, or with `patch` only in the four corner squares of
    `patch` pixels."""
    from hdc.train.batches import with_paper_field

    field = np.full(network_input.shape[:2], lift, np.float32)
    if patch:
        field[patch:-patch, :] = 0.0
        field[:, patch:-patch] = 0.0
    return with_paper_field(network_input, field)


def probe(images, step, weights_dir=None, lifts=LIFTS, patch=None):
    """{lift: [corner minimum per image]} of the raw network output (no data consistency) for `images` (each
    (H, W) float32 in [0, 1]) at `step`."""
    import tensorflow as tf

    from hdc.inference import StepDeblurrers

    deblurrer = StepDeblurrers(weights_dir, "float32", consistency=False)(step)
    steps = tf.constant([[float(step)]], dtype=tf.float32)
    minima = {lift: [] for lift in lifts}
    for image in images:
        network_input = deblurrer.prepare(image, step).network_input
        for lift in lifts:
            output = deblurrer.forward(tf.constant(lifted(network_input, lift, patch)[None]), steps).numpy()[0, :, :, 0]
            minima[lift].append(corner_minimum(output))
    return minima


def report(minima):
    """Markdown table of `probe`'s result: per lift, the median and the worst corner minimum."""
    lines = ["| paper lifted by | corner minimum, median | worst | captures |", "|---:|---:|---:|---:|"]
    for lift, values in minima.items():
        lines.append(f"| {lift:+.3g} | {np.median(values):.2f} | {np.min(values):.2f} | {len(values)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m evaluation.corners", description=__doc__.split("\n\n")[0])
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--step", type=int, default=15)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--lifts", default=",".join(str(lift) for lift in LIFTS),
                        help="comma-separated lifts of the flattened paper (default 0,0.02,0.05; negative ones "
                             "darken it: --lifts=0,-0.035)")
    parser.add_argument("--patch", type=int, metavar="PIXELS",
                        help="lift only squares of this many working-scale pixels at the input's four corners")
    arguments = parser.parse_args(argv)
    from hdc.dataset import DatasetError, find_samples
    from hdc.io import ImageError, read_image
    from hdc.weights import WeightsError

    try:
        lifts = tuple(float(lift) for lift in arguments.lifts.split(","))
        samples = [sample for sample in find_samples(arguments.test_dir, [arguments.step])
                   if sample.text is not None][:arguments.count]
        if not samples:
            raise DatasetError(f"no text captures of step {arguments.step} in {arguments.test_dir}")
        minima = probe([read_image(sample.blurred) for sample in samples], arguments.step, arguments.weights, lifts,
                       arguments.patch)
    except (ValueError, ImageError, WeightsError, OSError) as error:  # ValueError: DatasetError, a bad --lifts
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report(minima))
    return 0


if __name__ == "__main__":
    sys.exit(main())
