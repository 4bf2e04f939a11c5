"""Inference: a blurred full-size image and its step in, a deblurred full-size image out."""

import numpy as np
import tensorflow as tf

from hdc.model import build_model
from hdc.preprocessing import Preprocessor, resize
from hdc.weights import WeightsError, default_weights_dir, model_spec


class Deblurrer:
    """A loaded network with its preprocessing, reused for every image of a run.

    Parameters
    ----------
    spec : `hdc.weights.ModelSpec` (weights file, architecture, working scale).
    """

    def __init__(self, spec):
        self.spec = spec
        self.model = build_model(spec.architecture)
        try:
            self.model.load_weights(spec.path)
        except Exception as error:  # h5py and Keras raise many types for a bad file
            raise WeightsError(f"cannot load weights {spec.path}: {type(error).__name__}: {error}") from None
        self.preprocessor = Preprocessor(scale=spec.scale, median_widths=spec.median_widths)
        self.border = spec.architecture.border
        self.traces = 0
        self.forward = tf.function(self._forward)

    def _forward(self, image, step):
        self.traces += 1  # runs only while tracing: counts the traces
        return self.model([image, step], training=False)

    def predict(self, prepared, step):
        """Run the network on a working-scale input, padded so the output covers it.

        Parameters
        ----------
        prepared : (h, w, channels) float32, the output of the preprocessor.
        step : blur step, 0..19.

        Returns
        -------
        (h, w) float32 in [0, 1], 1 = white paper.
        """
        b = self.border
        padded = np.pad(prepared, ((b, b), (b, b), (0, 0)), mode="reflect")
        output = self.forward(tf.constant(padded[None]), tf.constant([[float(step)]], dtype=tf.float32))
        return output.numpy()[0, :, :, 0]

    def __call__(self, image, step):
        """Deblur `image` (H, W) float32 in [0, 1] at blur `step`; returns (H, W) float32 in [0, 1]."""
        small = self.predict(self.preprocessor(image), step)
        return np.clip(resize(small, image.shape, "bicubic"), 0.0, 1.0)


def load_deblurrer(step, weights_dir=None):
    """The `Deblurrer` that the manifest in `weights_dir` (default: the shipped `weights/`) names for `step`."""
    return Deblurrer(model_spec(weights_dir or default_weights_dir(), step))

