import numpy as np
import pytest

from hdc.architecture import ArticleArchitecture
from hdc.model import build_model


def test_article_summary_is_reproduced():
    model = build_model()
    assert model.count_params() == 67_185
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 336
    output = model([np.zeros((1, 110, 110, 5), np.float32), np.ones((1, 1), np.float32)])
    assert output.shape == (1, 52, 52, 1)
    assert ArticleArchitecture().border == 29


def test_fully_convolutional_on_other_sizes():
    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=2)
    model = build_model(architecture)
    output = model([np.zeros((2, 40, 57, 5), np.float32), np.zeros((2, 1), np.float32)])
    assert output.shape == (2, 40 - 2 * architecture.border, 57 - 2 * architecture.border, 1)
    assert np.all((output.numpy() >= 0) & (output.numpy() <= 1))


def test_tiled_prediction_equals_whole_image_prediction():
    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=3)
    model = build_model(architecture)
    b = architecture.border
    image = np.random.default_rng(0).normal(size=(1, 60 + 2 * b, 80 + 2 * b, 5)).astype(np.float32)
    step = np.array([[7.0]], np.float32)
    whole = model([image, step], training=False).numpy()
    left = model([image[:, :, :40 + 2 * b], step], training=False).numpy()
    right = model([image[:, :, 40:], step], training=False).numpy()
    np.testing.assert_allclose(np.concatenate([left, right], axis=2), whole, atol=1e-5)


def test_the_step_changes_the_output():
    model = build_model(ArticleArchitecture(dim=8, subdim=8, refinements=2))
    model.get_layer("pre_gate0").set_weights([np.ones((1, 8)), np.zeros(8)])
    image = np.random.default_rng(1).normal(size=(1, 40, 40, 5)).astype(np.float32)
    first = model([image, np.array([[0.0]])], training=False).numpy()
    second = model([image, np.array([[9.0]])], training=False).numpy()
    assert not np.allclose(first, second)


@pytest.mark.parametrize("values", [{"dim": 0}, {"shared_width": 4}, {"refinements": 1.5}])
def test_invalid_architecture(values):
    with pytest.raises(ValueError):
        ArticleArchitecture(**values)


def test_mixed_bfloat16_stays_close_to_float32():
    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=2)
    full = build_model(architecture)
    mixed = build_model(architecture, "mixed_bfloat16")
    mixed.set_weights(full.get_weights())
    image = np.random.default_rng(2).normal(scale=0.3, size=(1, 48, 48, 5)).astype(np.float32)
    step = np.array([[5.0]], np.float32)
    expected = full([image, step], training=False).numpy()
    result = mixed([image, step], training=False)
    assert result.dtype == "float32"
    assert np.abs(result.numpy() - expected).max() < 0.02


def test_the_skip_path_can_pass_the_image_through():
    """The skip path starts as the image passed through: with the convolutions' logit at zero, the output is
    the input on the target's scale (channel + 1, clipped to [0.01, 0.99]), at every step."""
    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=2, skip=True)
    model = build_model(architecture)
    output_layer = model.get_layer("output")
    output_layer.set_weights([np.zeros_like(w) for w in output_layer.get_weights()])
    image = np.random.default_rng(3).uniform(-1.2, 0.2, size=(2, 40, 40, 5)).astype(np.float32)
    steps = np.array([[0.0], [19.0]], np.float32)
    b = architecture.border
    expected = np.clip(image[:, b:-b, b:-b, :1] + 1.0, 0.01, 0.99)
    np.testing.assert_allclose(model([image, steps], training=False).numpy(), expected, atol=1e-5)
    assert build_model(architecture, "mixed_bfloat16")([image, steps]).dtype == "float32"
