"""Command-line helpers shared by main.py and the package's CLIs: arguments checked before any heavy import,
and the one-line error every CLI prints instead of a traceback."""

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path

from hdc import validation


class UsageError(ValueError):
    """A command-line argument is unusable; the message names it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that a run stops as cleanly as on Ctrl-C."""


EXIT_INTERRUPTED = {KeyboardInterrupt: 130, Terminated: 143}  # 128 + SIGINT, 128 + SIGTERM


@contextlib.contextmanager
def stop_on_signals():
    """Within the block, SIGTERM raises `Terminated` in the main thread, as Ctrl-C raises KeyboardInterrupt."""
    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def import_tensorflow_quietly():
    """Import TensorFlow and Keras with the file descriptor 2 muted, so that the absl and oneDNN lines they
    print while loading never reach the user's stderr (unless TF_CPP_MIN_LOG_LEVEL asks for them: 0 or 1).

    The log levels are set first; TF_ENABLE_ONEDNN_OPTS is left alone (turning oneDNN off costs 45 % of the
    training speed). An import error is raised as usual once stderr is back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1") or "tensorflow" in sys.modules:
        import keras  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def fail(message, code=2):
    """Print `error: message` on stderr and return `code` (the CLI's exit code)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def parse_step(text, auto=False):
    """The blur step as an int in 0..19, from its command-line text, or None for "auto" when `auto` allows it;
    `UsageError` naming the text otherwise."""
    if auto and text == "auto":
        return None
    try:
        return validation.parse_step(text)
    except ValueError as error:
        message = str(error).replace(", got", " or auto, got", 1) if auto else str(error)
        raise UsageError(message) from None


def steps_argument(text):
    """argparse type of a --steps option ("0-19", "3,5-7"): the sorted steps."""
    try:
        return validation.parse_steps(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def input_files(folder):
    """The TIFFs of INPUT_DIR, sorted; raises `UsageError` for a missing, unreadable or empty folder."""
    from hdc.io import list_tiffs

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"INPUT_DIR {str(folder)!r} does not exist or is not a folder")
    try:
        files = list_tiffs(folder)
    except OSError as error:
        raise UsageError(f"INPUT_DIR {str(folder)!r} cannot be read: {error.strerror}") from None
    if not files:
        raise UsageError(f"INPUT_DIR {str(folder)!r} holds no .tif or .tiff file")
    return files


def prepare_output(folder):
    """Create OUTPUT_DIR if needed and check that it is writable."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"OUTPUT_DIR {str(folder)!r} is not writable: {error.strerror}") from None
    return folder


def report_files(summary, failures):
    """Print a line on stderr for each (file name, reason) of `failures`, then the run's `summary` on stdout;
    returns the exit code: 1 if any file failed, else 0."""
    for name, reason in failures:
        print(f"error: {name}: {reason}", file=sys.stderr)
    print(summary)
    return 1 if failures else 0
