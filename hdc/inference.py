"""Inference: a blurred full-size image and its step in, a deblurred full-size image out."""

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from hdc.model import build_model
from hdc.preprocessing import Preprocessor, resize
from hdc.weights import WeightsError, default_weights_dir, model_spec


class Prepared(NamedTuple):
    """A network input (h + 2 border, w + 2 border, channels) float32 and whether its image's border was paper."""
    network_input: np.ndarray
    paper: bool


class Result(NamedTuple):
    """A network output (h, w) float32 in [0, 1] and whether its image's border was paper."""
    output: np.ndarray
    paper: bool


class Deblurrer:
    """A loaded network with its preprocessing, reused for every image of a run.

    Parameters
    ----------
    spec : `hdc.weights.ModelSpec` (weights file, architecture, working scale).
    precision : "float32" or "mixed_bfloat16" (faster on CPUs with bf16 support, slightly different output).
    """

    def __init__(self, spec, precision="float32"):
        self.spec = spec
        self.model = build_model(spec.architecture, precision)
        try:
            self.model.load_weights(spec.path)
        except Exception as error:  # h5py and Keras raise many types for a bad file
            raise WeightsError(f"cannot load weights {spec.path}: {type(error).__name__}: {error}") from None
        self.preprocessor = Preprocessor(spec.scale, spec.median_widths, spec.wiener_balance)
        self.border = spec.architecture.border
        self.traces = 0
        self.forward = tf.function(self._forward)

    def _forward(self, image, step):
        self.traces += 1  # runs only while tracing: counts the traces
        return self.model([image, step], training=False)

    def prepare(self, image, step):
        """A `Prepared` input for `image` at `step`: the working-scale network input (h, w, channels) float32,
        reflect-padded by the network's border, and whether the image's border was paper."""
        b = self.border
        network_input, paper = self.preprocessor.inputs(image, step)
        return Prepared(np.pad(network_input, ((b, b), (b, b), (0, 0)), mode="reflect"), paper)

    def infer(self, prepared, step):
        """Run the network on a `Prepared` input; returns a `Result`: (h, w) float32 in [0, 1], 1 = white."""
        output = self.forward(tf.constant(prepared.network_input[None]),
                              tf.constant([[float(step)]], dtype=tf.float32))
        return Result(output.numpy()[0, :, :, 0], prepared.paper)

    def finish(self, result, shape):
        """Upscale a `Result` to the input's `shape` (H, W), scaled as its input was; float32 in [0, 1].

        Where the input's border was paper, the output is divided by its own background surface, fitted on
        the text-free border as for the input, so the paper, and with it the leftmost columns where the
        scorer takes its white point, is white even where the network leaves it grey. A natural image is only
        scaled (by its 99.9th percentile where that is above 1), so its tones are kept.
        """
        output = result.output
        if result.paper:
            output = output / np.maximum(self.preprocessor.fit_for(output.shape)(output), 0.05)
        output = output / max(1.0, float(np.quantile(output, 0.999)))
        return np.clip(resize(output, shape, "bicubic"), 0.0, 1.0)

    def __call__(self, image, step):
        """Deblur `image` (H, W) float32 in [0, 1] at blur `step`; returns (H, W) float32 in [0, 1]."""
        return self.finish(self.infer(self.prepare(image, step), step), image.shape)


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


def load_deblurrer(step, weights_dir=None, precision="auto"):
    """The `Deblurrer` that the manifest in `weights_dir` (default: the shipped `weights/`) names for `step`."""
    return Deblurrer(model_spec(weights_dir or default_weights_dir(), step), resolve_precision(precision))

