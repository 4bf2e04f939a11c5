"""The U-Net and the architecture kinds: shapes, conditioning, the manifest's choice, inference padding."""

import json

import numpy as np
import pytest

from hdc.architecture import ArticleArchitecture, UNetArchitecture, architecture_from_dict

TINY_UNET = UNetArchitecture(widths=(4, 8, 12), embedding=8, channels=6)


def test_architectures_round_trip_through_their_dicts():
    for architecture in (ArticleArchitecture(dim=8), TINY_UNET, UNetArchitecture()):
        assert architecture_from_dict(json.loads(json.dumps(architecture.to_dict()))) == architecture
    assert architecture_from_dict({"dim": 8}) == ArticleArchitecture(dim=8)  # the first releases had no kind
    assert UNetArchitecture().multiple == 16 and UNetArchitecture().border == 0


@pytest.mark.parametrize("values, message", [
    ({"kind": "transformer"}, "unknown architecture kind 'transformer'"),
    ({"kind": "unet", "dim": 8}, r"unknown unet architecture keys: \['dim'\]"),
    ({"kind": "unet", "widths": [8]}, "at least two levels"),
    ({"kind": "unet", "widths": [8, 0]}, "positive integers"),
    ({"kind": "unet", "convolutions": 0}, "convolutions must be a positive integer")])
def test_invalid_architectures_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        architecture_from_dict(values)


def test_the_unet_keeps_the_input_size_and_is_conditioned_on_the_step():
    from hdc.model import build_model

    model = build_model(TINY_UNET)
    image = np.random.default_rng(0).normal(scale=0.3, size=(1, 24, 36, 6)).astype(np.float32)
    low, high = np.array([[0.0]], np.float32), np.array([[19.0]], np.float32)
    output = model([image, low]).numpy()
    assert output.shape == (1, 24, 36, 1) and 0 < output.min() and output.max() < 1
    np.testing.assert_allclose(model([image, high]).numpy(), output, atol=1e-6)  # FiLM starts at identity
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if "_film" in layer.name and not layer.name.endswith("_map"):
            layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    assert np.abs(model([image, high]).numpy() - model([image, low]).numpy()).max() > 1e-3


def test_network_padding_fits_each_kind():
    from hdc.inference import network_padding

    assert network_padding((209, 337), UNetArchitecture()) == ((7, 8), (7, 8))
    assert network_padding((208, 336), UNetArchitecture()) == ((0, 0), (0, 0))
    assert network_padding((209, 337), ArticleArchitecture()) == ((29, 29), (29, 29))


@pytest.fixture(scope="module")
def unet_weights(tmp_path_factory):
    from hdc.model import build_model
    from hdc.weights import export_model

    folder = tmp_path_factory.mktemp("unet-weights")
    export_model(build_model(TINY_UNET), folder, "unet", 7, (3, 5, 7, 9), TINY_UNET, wiener_balance=0.01)
    return folder


def test_the_manifest_selects_the_unet_and_inference_keeps_the_frame_size(unet_weights):
    from conftest import text_like_image

    from hdc.inference import load_deblurrer

    deblurrer = load_deblurrer(9, unet_weights, precision="float32")
    assert deblurrer.spec.architecture == TINY_UNET
    image = text_like_image((146, 236))  # 21 x 34 at 1:7, not a multiple of 4
    prepared = deblurrer.prepare(image, 9)
    assert prepared.network_input.shape[:2] == (24, 36)
    assert deblurrer.infer(prepared, 9).output.shape == (21, 34)
    assert deblurrer(image, 9).shape == image.shape


def test_an_unknown_kind_in_the_manifest_is_one_line(unet_weights, tmp_path):
    import shutil

    from hdc.weights import WeightsError, model_spec

    folder = tmp_path / "weights"
    shutil.copytree(unet_weights, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["models"]["unet"]["architecture"]["kind"] = "transformer"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="unknown architecture kind 'transformer'") as error:
        model_spec(folder, 3)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("architecture", [TINY_UNET, ArticleArchitecture(dim=8, subdim=8, refinements=2, channels=6)])
def test_tiled_inference_equals_whole_frame_inference(architecture):
    """On a frame that is not a multiple of the U-Net's 2^levels (padded as inference pads it)."""
    from hdc.inference import network_padding, tiled_output
    from hdc.model import build_model

    model = build_model(architecture, seed=3)
    frame = np.random.default_rng(4).normal(scale=0.3, size=(83, 141, 6)).astype(np.float32)
    padded = np.pad(frame, (*network_padding(frame.shape[:2], architecture), (0, 0)), mode="reflect")
    step = np.array([[7.0]], np.float32)

    def forward(window):
        return model([window[None], step]).numpy()[0, :, :, 0]

    whole = forward(padded)
    tiled = tiled_output(forward, padded, architecture, tile=24)
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
