"""Shared fixtures: tiny images, TIFF folders and randomly initialised weights in temporary folders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from hdc.io import write_tiff16


def text_like_image(shape=(146, 236), seed=0):
    """A vignetted page with three dark bars where text would be: (H, W) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows, columns = shape
    y = np.linspace(-1, 1, rows)[:, None]
    x = np.linspace(-1, 1, columns)[None, :]
    image = 0.85 * (1 - 0.12 * (x ** 2 + y ** 2))
    image = np.broadcast_to(image, shape).copy()
    for centre in (0.35, 0.5, 0.65):
        top, bottom = int(rows * (centre - 0.05)), int(rows * (centre + 0.05))
        image[top:bottom, int(columns * 0.25):int(columns * 0.75)] *= 0.4
    return np.clip(image + rng.normal(0, 0.01, shape), 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """A weights folder with a manifest and a randomly initialised small model (median and Wiener channels)
    for every step."""
    from hdc.architecture import ArticleArchitecture
    from hdc.model import build_model
    from hdc.weights import export_model

    folder = tmp_path_factory.mktemp("weights")
    architecture = ArticleArchitecture(dim=8, subdim=8, refinements=3, channels=6)
    export_model(build_model(architecture), folder, "tiny", 7, (3, 5, 7, 9), architecture, wiener_balance=0.01)
    return folder


@pytest.fixture
def tiff_folder(tmp_path):
    """An input folder with two small 16-bit TIFFs."""
    folder = tmp_path / "input"
    folder.mkdir()
    for index in range(2):
        write_tiff16(folder / f"focusStep_5_timesR_size_30_sample_000{index + 1}.tif",
                     text_like_image(seed=index))
    return folder
