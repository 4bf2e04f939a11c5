"""The step-conditioned networks as Keras functional models: `build_model` builds the one an architecture
(`hdc.architecture`) describes; the U-Net lives in `hdc.unet`.

The seed article's network:

Three stages: preprocessing (valid 3x3 convolutions, ELU, batch
normalization, each gated by a sigmoid Dense layer of the step), refinement
(one shared tanh convolution applied repeatedly as a highway whose gate
depends on the step) and postprocessing (1x1 convolutions, sigmoid output). With `skip`, the output's
logit also receives a step-weighted sum of the input channels' logits, so that
passing the image through (what a natural image needs at the mildest steps) is
one weight away instead of a function the convolutions must learn.
All convolutions are 'valid', so the output is smaller than the input by
`border(...)` pixels on each side; the model is fully convolutional.
"""

from hdc.architecture import ArticleArchitecture
from hdc.cli import import_tensorflow_quietly

import_tensorflow_quietly()  # TensorFlow's loading lines stay off stderr
import keras  # noqa: E402
from keras import layers  # noqa: E402


def seed_generator(seed):
    """The `keras.random.SeedGenerator` that seeds a network's initializers (None: unseeded, random)."""
    return None if seed is None else keras.random.SeedGenerator(seed)


def _step_gate(step, width, name, dtype, seeds):
    """A sigmoid Dense layer of the step, shaped (batch, 1, 1, width) to gate feature maps."""
    gate = layers.Dense(width, activation="sigmoid", name=name, dtype=dtype,
                        kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01, seeds))(step)
    return layers.Reshape((1, 1, width), name=f"{name}_map", dtype=dtype)(gate)


def _input_logits(image, step, architecture, limit=0.01):
    """The skip path: Σ_c w_c(step) · logit(clip(input_c + 1)), cropped to the output, (batch, h, w, 1) float32.

    The flattened channels hold image / background − 1 (paper at 0), so input_c + 1 is on the
    target's scale (paper at 1); clipping to [limit, 1 − limit] keeps the logits within ±4.6. The
    weights start at 1 for the image, 0 for the others: started at 0 (a network without the path
    warm-started unchanged), they grew by only 0.02 in 500 batches, the convolutions' output
    staying the local optimum.
    """
    a = architecture
    centre = layers.Cropping2D(a.border, name="skip_crop")(image)
    probability = keras.ops.clip(centre + 1.0, limit, 1.0 - limit)
    logits = keras.ops.log(probability) - keras.ops.log1p(-probability)
    passing = keras.initializers.Constant([1.0] + [0.0] * (a.channels - 1))
    weights = layers.Dense(a.channels, kernel_initializer="zeros", bias_initializer=passing, name="skip_gate")(step)
    weights = layers.Reshape((1, 1, a.channels), name="skip_gate_map")(weights)
    return keras.ops.sum(logits * weights, axis=-1, keepdims=True)


def build_model(architecture=ArticleArchitecture(), dtype_policy="float32", seed=None):
    """Build the network `architecture` describes (`hdc.architecture`): the article's or the U-Net.

    Parameters
    ----------
    architecture : `hdc.architecture.ArticleArchitecture` or `hdc.architecture.UNetArchitecture`.
    dtype_policy : Keras dtype policy of every layer but the output ("float32" or
        "mixed_bfloat16"); the sigmoid output is always float32.
    seed : seed of the initial weights (None: random); no global generator is touched.

    Returns
    -------
    keras.Model with inputs ``[image (batch, H, W, channels) float32,
    step (batch, 1) float32]`` and output (batch, H - 2b, W - 2b, 1) in
    [0, 1] (1 = white paper), where b = ``architecture.border`` (0 for the U-Net, whose H and W must be
    multiples of ``architecture.multiple``). With the article's defaults and a 110 x 110 x 5 input: 67,185
    parameters, 52 x 52 output.
    """
    if architecture.kind == "unet":
        from hdc.unet import build_unet

        return build_unet(architecture, dtype_policy, seed)
    return build_article(architecture, dtype_policy, seed)


def build_article(architecture, dtype_policy="float32", seed=None):
    """The seed article's network (see the module docstring and `build_model`)."""
    a, d, seeds = architecture, dtype_policy, seed_generator(seed)

    def glorot():
        return keras.initializers.GlorotUniform(seeds)

    image = keras.Input((None, None, a.channels), name="image")
    step = keras.Input((1,), name="step")
    widths = [a.subdim] + [int(round((a.dim ** k * a.subdim ** (4 - k)) ** 0.25)) for k in (1, 2, 3)]

    x = image
    for index, width in enumerate(widths):
        x = layers.Conv2D(width, 3, activation="elu", kernel_initializer=glorot(), name=f"pre_conv{index}", dtype=d)(x)
        x = layers.BatchNormalization(name=f"pre_norm{index}", dtype=d)(x)
        x = x * _step_gate(step, width, f"pre_gate{index}", d, seeds)
    x = layers.Conv2D(a.dim, 3, activation="tanh", kernel_initializer=glorot(), name="pre_conv_out", dtype=d)(x)
    x = x * _step_gate(step, a.dim, "pre_gate_out", d, seeds)

    shared = layers.Conv2D(a.dim, a.shared_width, activation="tanh", kernel_initializer=glorot(), name="shared",
                           dtype=d)
    crop = layers.Cropping2D((a.shared_width - 1) // 2, name="crop", dtype=d)
    for index in range(a.refinements):
        gate = _step_gate(step, a.dim, f"refine_gate{index}", d, seeds)
        x = crop(x) * (1.0 - gate) + shared(x) * gate

    x = layers.BatchNormalization(name="post_norm0", dtype=d)(
        layers.Conv2D(int(round((a.subdim * a.dim) ** 0.5)), 1, activation="elu", kernel_initializer=glorot(),
                      name="post_conv0", dtype=d)(x))
    x = layers.BatchNormalization(name="post_norm1", dtype=d)(
        layers.Conv2D(8, 1, activation="elu", kernel_initializer=glorot(), name="post_conv1", dtype=d)(x))
    if not a.skip:
        output = layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer=glorot(), dtype="float32",
                               name="output")(x)
        return keras.Model([image, step], output, name="hdc_deblur")
    logit = layers.Conv2D(1, 1, kernel_initializer=glorot(), dtype="float32", name="output")(x) + _input_logits(
        image, step, a)
    output = layers.Activation("sigmoid", dtype="float32", name="probability")(logit)
    return keras.Model([image, step], output, name="hdc_deblur")
