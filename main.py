"""HDC2021 entry point: ``python main.py INPUT_DIR OUTPUT_DIR STEP``.

Deblurs every TIFF in INPUT_DIR at blur step STEP (0..19) and writes one
8-bit grayscale PNG per input, with the same name and size, to OUTPUT_DIR.
STEP ``auto`` estimates each image's step (`hdc.estimate`), prints it, and
deblurs each image at its own estimate (one step lower at estimates 1-3, where
the mild steps cannot be told apart and too much deblurring costs more; at
step 0 for a photograph whose estimate has a confidence under 0.7, and for any
capture under 0.3).
Exit codes: 0 all written, 1 some inputs failed, 2 bad arguments or weights, 130 interrupted by Ctrl-C,
143 stopped by SIGTERM (what was written is complete; no temporary file is left). See the README.
"""

import argparse
import sys
import time

from hdc.cli import (
    EXIT_INTERRUPTED,
    UsageError,
    fail,
    input_files,
    parse_step,
    prepare_output,
    report_files,
    stop_on_signals,
)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="main.py", description="Deblur HDC2021 captures: one PNG per input TIFF.")
    parser.add_argument("input_dir", metavar="INPUT_DIR", help="folder where the input image files are located")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder where the output images must be stored")
    parser.add_argument("step", metavar="STEP",
                        help="blur category number, an integer in 0..19, or auto to estimate it per image")
    parser.add_argument("--weights", metavar="DIR", default=None,
                        help="weights folder with a manifest.json (default: the shipped weights/)")
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"), default="auto",
                        help="numeric precision of the network: auto (default) is mixed_bfloat16 on CPUs with native "
                             "bfloat16 instructions and no GPU, else float32 (docs/benchmark: same OCR scores)")
    parser.add_argument("--no-consistency", action="store_true",
                        help="the network's output as it is, without the data consistency of the manifest")
    parser.add_argument("--tile", type=int, default=None, metavar="PIXELS",
                        help="run the network in tiles of this many working-scale pixels (bounds the memory on "
                             "large inputs; the same output up to float rounding)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the command line; returns the exit code."""
    arguments = parse_arguments(argv)
    try:
        step = parse_step(arguments.step, auto=True)
        files = input_files(arguments.input_dir)
        if arguments.tile is not None and arguments.tile < 16:
            raise UsageError(f"--tile must be at least 16 pixels, got {arguments.tile}")
    except UsageError as error:
        return fail(error)
    with stop_on_signals():
        try:
            return deblur(arguments, step, files)
        except KeyboardInterrupt:  # before the first image, e.g. while TensorFlow loads
            print(f"interrupted: 0 of {len(files)} written", file=sys.stderr)
            return 130


def deblur(arguments, step, files):
    """Load the weights, then deblur `files` into OUTPUT_DIR (created only once the weights are good) at
    `step`, or at each file's estimated step when `step` is None (printing each estimate as it is made)."""
    from hdc.inference import AutoDeblurrer, StepDeblurrers  # imports TensorFlow quietly
    from hdc.io import remove_stale_temporaries
    from hdc.pipeline import Interrupted, deblur_files
    from hdc.weights import WeightsError

    start = time.perf_counter()
    deblurrers = StepDeblurrers(arguments.weights, arguments.precision, not arguments.no_consistency,
                                arguments.tile)
    try:
        method = deblurrers(step) if step is not None else AutoDeblurrer(deblurrers)
        output_dir = prepare_output(arguments.output_dir)
    except (WeightsError, UsageError) as error:
        return fail(error)
    remove_stale_temporaries(output_dir)
    chosen = set()
    try:
        written, failures = deblur_files(files, output_dir, step, method,
                                         progress=not arguments.quiet and len(files) > 1,
                                         announce=None if step is not None else announcer(chosen))
    except Interrupted as stop:
        print(f"interrupted: {stop.written} of {len(files)} written", file=sys.stderr)
        return EXIT_INTERRUPTED[type(stop.cause)]
    seconds = (time.perf_counter() - start) / max(1, len(files))
    steps = f"step {step}" if step is not None else f"auto (steps {', '.join(map(str, sorted(chosen)))})"
    return report_files(f"{steps}: wrote {written} PNG(s) to {output_dir}, {len(failures)} failed, "
                        f"{seconds:.2f} s per image", sorted(failures))


def announcer(chosen):
    """The pipeline's `announce` for `auto`: prints each image's line `name: step N (radius R px, confidence C),
    deblurred at step M` (above the progress bar) and adds M to the set `chosen`."""
    from tqdm import tqdm

    from hdc.estimate import estimate_line

    def announce(name, prepared):
        chosen.add(prepared.step)
        with tqdm.external_write_mode(file=sys.stdout):
            print(f"{estimate_line(name, prepared.estimate)}, deblurred at step {prepared.step}", flush=True)
    return announce


if __name__ == "__main__":
    sys.exit(main())
