"""Running a deblurring method over a folder of TIFFs: read, deblur and write overlapped.

A method is either a plain callable ``method(image, step) -> image`` or an
object with three stages, which the pipeline overlaps across images so that
reading and preprocessing the next image and upscaling and writing the
previous one run while the network works on the current one:

- ``prepare(image, step) -> prepared`` (reader thread),
- ``infer(prepared, step) -> result`` (calling thread),
- ``finish(result, shape) -> image`` (writer thread).

NumPy, SciPy, Pillow, tifffile and TensorFlow release the GIL in their heavy
parts, so the threads use all cores. At most two images are read ahead and
two written behind, so memory stays flat over any number of images. Since the
stages already keep the cores busy, BLAS runs single-threaded during a run
(`threadpoolctl`): its own threads, waiting on busy cores, made the whole run
slower (0.247 s per image against 0.192 s at step 7, docs/benchmark).

An interrupt (Ctrl-C, or SIGTERM through `hdc.cli.stop_on_signals`) cancels what has not started, lets the PNG
being written finish (so every PNG on disk is complete and no temporary is left) and raises `Interrupted`.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from hdc.io import ImageError, read_image, write_png

AHEAD = 2


class Interrupted(Exception):
    """A run stopped by an interrupt after `written` of `total` PNGs; `cause` is the KeyboardInterrupt."""

    def __init__(self, written, total, cause):
        super().__init__(f"interrupted: {written} of {total} written")
        self.written, self.total, self.cause = written, total, cause


class PlainMethod:
    """Adapts a plain callable (image, step) -> image to the three stages."""

    def __init__(self, function):
        self.function = function

    def prepare(self, image, step):
        return image

    def infer(self, image, step):
        return self.function(image, step)

    def finish(self, result, shape):
        return result


def staged(method):
    """`method` itself when it has the three stages, else wrapped in `PlainMethod`."""
    if all(hasattr(method, name) for name in ("prepare", "infer", "finish")):
        return method
    return PlainMethod(method)


def output_path(input_path, output_dir):
    """`output_dir`/<stem of input_path>.png."""
    return Path(output_dir) / (Path(input_path).stem + ".png")


def deblur_files(files, output_dir, step, method, progress=True, blas_threads=1, announce=None):
    """Deblur each TIFF of `files` into `output_dir`, carrying on past bad files.

    Parameters
    ----------
    files : sorted list of input paths.
    output_dir : existing, writable folder.
    step : blur step 0..19, or None for a method that chooses each image's step (`hdc.inference.AutoDeblurrer`).
    method : callable (image (H, W) float32 in [0, 1], step) -> (H, W) float in [0, 1], or an object
        with the stages prepare / infer / finish (e.g. `hdc.inference.Deblurrer`).
    progress : show a progress bar on stderr.
    blas_threads : BLAS threads during the run (None: BLAS's own default).
    announce : called as ``announce(file name, prepared)`` in file order, once each image is prepared.

    Returns
    -------
    (written, failures): the number of PNGs written and a list of
    (file name, reason) for the inputs that could not be processed.
    """
    method = staged(method)
    inputs = {Path(path).resolve() for path in files}
    jobs, failures, claimed = [], [], set()
    for path in files:
        target = output_path(path, output_dir)
        if target.resolve() in inputs or target.name.lower() in claimed:
            failures.append((Path(path).name, f"output {target.name} would overwrite an input or another output"))
        else:
            claimed.add(target.name.lower())
            jobs.append((Path(path), target))

    def load(path):
        try:
            image = read_image(path)
        except (ImageError, OSError) as error:
            return None, str(error).removeprefix(f"{path.name}: ")
        return (method.prepare(image, step), image.shape), None

    written = []  # targets written, appended by the writer thread once each PNG is in place

    def store(result, shape, target):
        write_png(target, method.finish(result, shape))
        written.append(target)

    def collect(write):
        source, destination, future = write
        try:
            future.result()
        except OSError as error:
            failures.append((source.name, f"cannot write {destination.name}: {error.strerror or error}"))

    interrupt = None
    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as writer, \
            threadpool_limits(blas_threads, user_api="blas"), \
            tqdm(total=len(jobs), desc="auto" if step is None else f"step {step}", unit="image",
                 disable=not progress) as bar:
        reads, writes = deque(), deque()
        try:
            reads.extend(reader.submit(load, path) for path, _ in jobs[:AHEAD])
            for index, (path, target) in enumerate(jobs):
                loaded, problem = reads.popleft().result()
                if index + AHEAD < len(jobs):
                    reads.append(reader.submit(load, jobs[index + AHEAD][0]))
                if problem is None:
                    prepared, shape = loaded
                    if announce is not None:
                        announce(path.name, prepared)
                    writes.append((path, target, writer.submit(store, method.infer(prepared, step), shape, target)))
                else:
                    failures.append((path.name, problem))
                while len(writes) > AHEAD or (writes and index == len(jobs) - 1):
                    collect(writes.popleft())
                bar.update()
        except KeyboardInterrupt as caught:  # cancel what has not started; the pools finish what has
            interrupt = caught
            for future in list(reads) + [future for _, _, future in writes]:
                future.cancel()
    if interrupt is not None:
        raise Interrupted(len(written), len(files), interrupt)
    return len(written), failures
