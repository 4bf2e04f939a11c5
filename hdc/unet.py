"""The step-conditioned U-Net (`hdc.architecture.UNetArchitecture`) as a Keras functional model.

An encoder of `len(widths)` levels (3x3 'same' convolutions, ReLU, 2x2 average pooling between levels), a
decoder that mirrors it (bilinear 2x upsampling, concatenation with the encoder's map of the same level, 3x3
convolutions) and a 1x1 sigmoid output. With the default five levels an output pixel can see 245 x 245
working-scale pixels (`UNetArchitecture.context`), several blur diameters even at step 19 (48-58 pixels at 1:7),
where the article's network sees 59 x 59.

The step enters every convolution by FiLM: a small MLP embeds step / 19, and from the embedding a Dense layer
per convolution makes a scale and a shift, x · (1 + γ(step)) + β(step), before the activation. These layers
start at zero, so the untrained network is the same at every step and the conditioning grows only where
training asks for it.
"""

import keras
from keras import layers

from hdc.model import seed_generator

HIGHEST_STEP = 19.0


def _film(features, embedding, width, name, dtype):
    """FiLM of `features` (batch, h, w, width) by the step `embedding` (batch, e): x · (1 + γ) + β."""
    scale_shift = layers.Dense(2 * width, kernel_initializer="zeros", name=name, dtype=dtype)(embedding)
    scale_shift = layers.Reshape((1, 1, 2 * width), name=f"{name}_map", dtype=dtype)(scale_shift)
    scale, shift = scale_shift[..., :width], scale_shift[..., width:]
    return features * (1.0 + scale) + shift


def _level(features, embedding, width, architecture, name, dtype, seeds):
    """`architecture.convolutions` 3x3 convolutions of `width` channels, each with FiLM and ReLU."""
    for index in range(architecture.convolutions):
        features = layers.Conv2D(width, 3, padding="same", kernel_initializer=keras.initializers.HeNormal(seeds),
                                 name=f"{name}_conv{index}", dtype=dtype)(features)
        features = _film(features, embedding, width, f"{name}_film{index}", dtype)
        features = layers.Activation("relu", name=f"{name}_relu{index}", dtype=dtype)(features)
    return features


def build_unet(architecture, dtype_policy="float32", seed=None):
    """Build the U-Net.

    Parameters
    ----------
    architecture : `hdc.architecture.UNetArchitecture`.
    dtype_policy : Keras dtype policy of every layer but the output ("float32" or "mixed_bfloat16").
    seed : seed of the initial weights (None: random).

    Returns
    -------
    keras.Model with inputs ``[image (batch, H, W, channels) float32, step (batch, 1) float32]``, H and W
    multiples of ``architecture.multiple``, and output (batch, H, W, 1) float32 in [0, 1] (1 = white).
    """
    a, d, seeds = architecture, dtype_policy, seed_generator(seed)
    image = keras.Input((None, None, a.channels), name="image")
    step = keras.Input((1,), name="step")
    embedding = layers.Rescaling(1.0 / HIGHEST_STEP, name="step_scaled", dtype=d)(step)
    for index in range(2):
        embedding = layers.Dense(a.embedding, activation="gelu",
                                 kernel_initializer=keras.initializers.GlorotUniform(seeds),
                                 name=f"step_embedding{index}", dtype=d)(embedding)

    features, skips = image, []
    for level, width in enumerate(a.widths[:-1]):
        features = _level(features, embedding, width, a, f"down{level}", d, seeds)
        skips.append(features)
        features = layers.AveragePooling2D(2, name=f"pool{level}", dtype=d)(features)
    features = _level(features, embedding, a.widths[-1], a, "bottom", d, seeds)
    for level in reversed(range(len(a.widths) - 1)):
        features = layers.UpSampling2D(2, interpolation="bilinear", name=f"upsample{level}", dtype=d)(features)
        features = layers.Concatenate(name=f"skip{level}", dtype=d)([features, skips[level]])
        features = _level(features, embedding, a.widths[level], a, f"up{level}", d, seeds)
    output = layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(seeds),
                           dtype="float32", name="output")(features)
    return keras.Model([image, step], output, name="hdc_unet")
