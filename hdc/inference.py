"""Inference: a blurred full-size image and its step in, a deblurred full-size image out."""

import copy
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hdc.cli import import_tensorflow_quietly

import_tensorflow_quietly()  # TensorFlow's loading lines stay off stderr
import tensorflow as tf  # noqa: E402

from hdc.estimate import Estimate, Spectra, deblurring_step, estimate  # noqa: E402
from hdc.model import build_model  # noqa: E402
from hdc.postprocessing import Observation, Postprocessor, Result  # noqa: E402
from hdc.validation import STEPS  # noqa: E402
from hdc.weights import WeightsError, consistency_for, default_weights_dir, model_spec  # noqa: E402


class Prepared(NamedTuple):
    """A network input (h, w, channels) float32 padded for the network (`network_padding`), whether its
    image's border was paper, and the `Observation` for data consistency (None without it: `Result`)."""
    network_input: np.ndarray
    paper: bool
    observation: Observation = None
    padding: tuple = ((0, 0), (0, 0))


def network_padding(shape, architecture):
    """The reflect padding ((top, bottom), (left, right)) of a working-scale frame of `shape` (h, w) for the
    network: its `border` on each side (the article's 'valid' convolutions), then up to a multiple of its
    `multiple` (the U-Net's poolings), split between both sides."""
    padding = []
    for size in shape:
        extra = (-(size + 2 * architecture.border)) % architecture.multiple
        padding.append((architecture.border + extra // 2, architecture.border + extra - extra // 2))
    return tuple(padding)


class Deblurrer:
    """A loaded network with its preprocessing, reused for every image of a run.

    Parameters
    ----------
    spec : `hdc.weights.ModelSpec` (weights file, architecture, working scale).
    precision : "float32" or "mixed_bfloat16" (faster on CPUs with bf16 support, slightly different output).
    consistency : a `hdc.postprocessing.Consistency` to make the output agree with the input through the known
        blur, or None for the network's output as it is.
    tile : run frames larger than this many working-scale pixels on a side in tiles of this size (None: whole).
    """

    def __init__(self, spec, precision="float32", consistency=None, tile=None):
        self.spec = spec
        self.tile = tile
        self.model = build_model(spec.architecture, precision)
        try:
            with warnings.catch_warnings():  # Keras warns once per layer it cannot fill, then raises
                warnings.simplefilter("ignore")
                self.model.load_weights(spec.path)
        except Exception as error:  # h5py and Keras raise many types for a bad file
            raise WeightsError(f"cannot load weights {spec.path} into the manifest's {spec.architecture.kind} network "
                               f"{spec.name!r}: {first_line(error)}") from None
        self.preprocessor = spec.preprocessor()
        self.postprocessor = Postprocessor(self.preprocessor, consistency)
        self.forward = tf.function(self._forward)

    def with_consistency(self, consistency):
        """A copy of this deblurrer, sharing its network, that finishes with `consistency` (or None)."""
        twin = copy.copy(self)
        twin.postprocessor = Postprocessor(self.preprocessor, consistency)
        return twin

    @property
    def consistency(self):
        """The `hdc.postprocessing.Consistency` this deblurrer finishes with, or None."""
        return self.postprocessor.consistency

    @property
    def traces(self):
        """How many times the network's `tf.function` was traced (once per run when the frames share a size);
        copies made by `with_consistency` share it."""
        return self.forward.experimental_get_tracing_count()

    def _forward(self, image, step):
        return self.model([image, step], training=False)

    def prepare(self, image, step, radii=None, cleaned=False, spectra=None, flattened=None):
        """A `Prepared` input for `image` at `step`: the working-scale network input (h, w, channels) float32,
        reflect-padded for the network (`network_padding`), whether the image's border was paper, and the
        `Observation` when the output is made consistent with the input. The blur model is the preprocessor's
        `blur_kernel` where it finds one (the output is then not made consistent: `Result`), else discs of
        `radii`: the radii when already known (default: the preprocessor's `blur_radii` of the image, which may
        estimate them); the aperture fit and the radius estimate share `spectra`, the image's `hdc.estimate.Spectra`
        (when already made; of the image after `clean`), and the aperture fit and the network input share
        `flattened`, the preprocessor's `flatten` of the image (when already made, likewise).
        `cleaned`: whether `image` already went through the preprocessor's `clean`."""
        image = image if cleaned else self.preprocessor.clean(image)
        spectra = Spectra(image) if spectra is None else spectra  # made when first asked for, shared
        flattened = self.preprocessor.flatten(image) if flattened is None else flattened
        kernel = self.preprocessor.blur_kernel(image, step, spectra, paper=flattened[1])  # its paper decision
        if kernel is not None:
            network_input, paper = self.preprocessor.inputs(image, step, kernel=kernel, flattened=flattened)
            observation = None
        else:
            radii = self.preprocessor.blur_radii(image, step, spectra) if radii is None else radii
            network_input, paper = self.preprocessor.inputs(image, step, radii=radii, flattened=flattened)
            observation = self.postprocessor.observe(image, step, paper, radii)
        padding = network_padding(network_input.shape[:2], self.spec.architecture)
        return Prepared(np.pad(network_input, (*padding, (0, 0)), mode="reflect"), paper, observation, padding)

    def infer(self, prepared, step):
        """Run the network on a `Prepared` input; returns a `Result`: (h, w) float32 in [0, 1], 1 = white.

        With `tile`, a frame larger than `tile` pixels on a side runs in tiles (`tiled_output`), which bounds
        the memory and gives the same output."""
        network_input, steps = prepared.network_input, tf.constant([[float(step)]], dtype=tf.float32)
        if self.tile is None or max(network_input.shape[:2]) <= self.tile:
            output = self.forward(tf.constant(network_input[None]), steps).numpy()[0, :, :, 0]
        else:
            output = tiled_output(lambda window: self.forward(tf.constant(window[None]), steps).numpy()[0, :, :, 0],
                                  network_input, self.spec.architecture, self.tile)
        border = self.spec.architecture.border
        (top, bottom), (left, right) = [(low - border, high - border) for low, high in prepared.padding]
        output = output[top:output.shape[0] - bottom, left:output.shape[1] - right]
        return Result(output, prepared.paper, prepared.observation)

    def finish(self, result, shape):
        """The final image (H, W) = `shape` float32 in [0, 1] of a `Result` (`hdc.postprocessing.Postprocessor`)."""
        return self.postprocessor.finish(result, shape)

    def __call__(self, image, step):
        """Deblur `image` (H, W) float32 in [0, 1] at blur `step`; returns (H, W) float32 in [0, 1]."""
        return self.finish(self.infer(self.prepare(image, step), step), image.shape)


def tiled_output(forward, network_input, architecture, tile):
    """The network's output over `network_input` (h, w, channels), padded as `network_padding` makes it, computed
    in tiles: (h - 2 border, w - 2 border) float32, equal to running `forward` on the whole frame.

    Each tile of `tile` output pixels runs on a window that adds the network's `context` on each side (what
    its output pixels can see; the article's 'valid' network needs nothing beyond its border), aligned to
    `architecture.multiple` so that the U-Net's poolings fall on the same pixels as in the whole frame.
    """
    border, multiple = architecture.border, architecture.multiple
    margin = architecture.context - border
    rows, columns = (size - 2 * border for size in network_input.shape[:2])
    output = np.empty((rows, columns), np.float32)
    for top in range(0, rows, tile):
        for left in range(0, columns, tile):
            window = []
            for start, size, total in ((top, tile, rows), (left, tile, columns)):
                low = max(0, start - margin) // multiple * multiple
                high = min(total, -(-(start + size + margin) // multiple) * multiple)
                window.append((low, high))
            (row0, row1), (column0, column1) = window
            part = forward(network_input[row0:row1 + 2 * border, column0:column1 + 2 * border])
            output[top:top + tile, left:left + tile] = part[top - row0:top - row0 + tile,
                                                            left - column0:left - column0 + tile]
    return output


def first_line(error, limit=200):
    """The first line of an exception's message, at most `limit` characters (Keras's can run to pages)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def native_bfloat16(cpuinfo=Path("/proc/cpuinfo")):
    """True when the CPU has native bfloat16 instructions (AVX512-BF16 or AMX-BF16; Linux only)."""
    try:
        return re.search(r"\b(avx512_bf16|amx_bf16)\b", Path(cpuinfo).read_text()) is not None
    except OSError:
        return False


def resolve_precision(precision="auto"):
    """The Keras dtype policy for `precision`: "auto" is "mixed_bfloat16" on a CPU with native bfloat16
    instructions and no visible GPU (1.4x faster there, same OCR scores: docs/benchmark), else "float32"."""
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU") or not native_bfloat16():
        return "float32"
    return "mixed_bfloat16"


def load_deblurrer(step, weights_dir=None, precision="auto", consistency=True, tile=None):
    """The `Deblurrer` that the manifest in `weights_dir` (default: the shipped `weights/`) names for `step`,
    with the manifest's data consistency for the step (`consistency=False`: the network's output as it is),
    running frames larger than `tile` in tiles."""
    return StepDeblurrers(weights_dir, precision, consistency, tile)(step)


class StepDeblurrers:
    """The `Deblurrer` of any step from one weights folder, each weights file loaded once, each with its step's
    data consistency (none with `consistency=False`): ``StepDeblurrers(weights_dir)(step)(image, step)``."""

    def __init__(self, weights_dir=None, precision="float32", consistency=True, tile=None):
        self.folder = weights_dir or default_weights_dir()
        self.precision = resolve_precision(precision)
        self.consistency = consistency
        self.tile = tile
        self.loaded = {}

    def __call__(self, step):
        spec = model_spec(self.folder, step)
        if spec.path not in self.loaded:
            self.loaded[spec.path] = Deblurrer(spec, self.precision, tile=self.tile)
        return self.loaded[spec.path].with_consistency(consistency_for(self.folder, step) if self.consistency
                                                       else None)


class AutoPrepared(NamedTuple):
    """An image's `Estimate`, the step it is deblurred at, and its `Prepared` input for that step."""
    estimate: Estimate
    step: int
    prepared: Prepared


class AutoDeblurrer:
    """Deblurs each image at its own estimated step, with the stages of `hdc.pipeline` (prepare, infer, finish)
    over the `Deblurrer` of every step of a `StepDeblurrers`, made at once (a bad manifest fails before any
    image). `prepare` estimates the image's step (`hdc.estimate.estimate`) and decides the step it is deblurred
    at (`hdc.estimate.deblurring_step`, with whether its border is paper); the radius search of the preprocessing
    reuses the estimate's spectra. The `step` the pipeline passes is ignored."""

    def __init__(self, deblurrers):
        self.methods = {step: deblurrers(step) for step in STEPS}

    def prepare(self, image, step=None):
        """An `AutoPrepared` for `image` (H, W) float32 in [0, 1]."""
        first = self.methods[0].preprocessor
        image = first.clean(image)
        spectra, flattened = Spectra(image), first.flatten(image)
        value = estimate(image, spectra)
        chosen = deblurring_step(value, flattened[1])
        method = self.methods[chosen]
        shared = flattened if method.preprocessor is first else None  # one weights file serves every step
        return AutoPrepared(value, chosen, method.prepare(image, chosen, cleaned=True, spectra=spectra,
                                                          flattened=shared))

    def infer(self, prepared, step=None):
        """(step, `Result`) of an `AutoPrepared`."""
        return prepared.step, self.methods[prepared.step].infer(prepared.prepared, prepared.step)

    def finish(self, result, shape):
        """The final image (H, W) = `shape` float32 in [0, 1] of what `infer` returned."""
        step, inner = result
        return self.methods[step].finish(inner, shape)
