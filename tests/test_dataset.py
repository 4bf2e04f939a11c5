import numpy as np
import pytest

from hdc import synthetic
from hdc.dataset import DatasetError, find_samples, parse_name, read_text, training_layout
from hdc.io import write_tiff16


def test_parse_names():
    assert parse_name("focusStep_14_timesR_size_30_sample_0099") == ("text", 14, "Times", 99)
    assert parse_name("focusStep_3_verdanaRef_size_30_sample_0001") == ("text", 3, "Verdana", 1)
    assert parse_name("focusStep_5_PSF") == ("calibration", 5, "PSF")
    assert parse_name("focusStep_5_LSF_X") == ("calibration", 5, "LSF_X")
    assert parse_name("focusStep_2_Image_moon") == ("natural", 2, "moon")
    for bad in ("focusStep_5_arial_size_30_sample_0001", "holiday", "focusStep_25_PSF"):
        with pytest.raises(DatasetError):
            parse_name(bad)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    synthetic.main([str(root / "train"), "--steps", "0,7", "--per-font", "2", "--natural", "1", "--workers", "2"])
    synthetic.main([str(root / "test"), "--steps", "4-5", "--per-font", "1", "--layout", "test", "--natural", "1",
                    "--workers", "2"])
    return root


def test_readers_round_trip_a_generated_training_tree(generated):
    samples = find_samples(generated / "train")
    assert len(samples) == 2 * (2 * 2 + 1)
    text_samples = [s for s in samples if s.kind != "natural"]
    assert {(s.step, s.kind, s.key) for s in text_samples} == {
        (step, kind, key) for step in (0, 7) for kind in ("Times", "Verdana") for key in (1, 2)}
    for sample in text_samples:
        assert sample.blurred.parent.name == "CAM02" and sample.sharp.parent.name == "CAM01"
        lines = read_text(sample.text)
        assert len(lines) == 3 and all(len(line) <= 10 for line in lines)
    assert find_samples(generated / "train", steps={7})[0].step == 7


def test_readers_round_trip_a_generated_test_tree(generated):
    samples = find_samples(generated / "test")
    assert sorted((s.step, s.kind) for s in samples) == [
        (4, "Times"), (4, "Verdana"), (4, "natural"), (5, "Times"), (5, "Verdana"), (5, "natural")]
    assert all(s.sharp.parent.name == "CAM01_focused" for s in samples)


def test_calibration_images_are_skipped_and_exposed(generated, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(generated / "train" / "step0", root / "step0")
    for camera in ("CAM01", "CAM02"):
        write_tiff16(root / "step0" / "Times" / camera / "focusStep_0_PSF.tif", np.zeros((80, 80)))
    samples, calibration = training_layout(root)
    assert len(samples) == 5
    assert sorted((c.target, c.camera) for c in calibration) == [("PSF", "CAM01"), ("PSF", "CAM02")]


def test_malformed_trees_are_rejected(generated, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(generated / "train" / "step7", root / "step7")
    victim = next((root / "step7" / "Times" / "CAM01").glob("*.tif"))
    victim.unlink()
    with pytest.raises(DatasetError, match="no sharp counterpart"):
        find_samples(root)

    root = tmp_path / "unknown"
    shutil.copytree(generated / "train" / "step7", root / "step7")
    write_tiff16(root / "step7" / "Times" / "CAM02" / "holiday.tif", np.zeros((80, 80)))
    with pytest.raises(DatasetError, match="unknown HDC2021 file name"):
        find_samples(root)

    root = tmp_path / "wrongstep"
    shutil.copytree(generated / "train" / "step7", root / "step8")
    with pytest.raises(DatasetError, match="does not belong"):
        find_samples(root)

    root = tmp_path / "notext"
    shutil.copytree(generated / "train" / "step7", root / "step7")
    for path in root.rglob("*.txt"):
        path.unlink()
    with pytest.raises(DatasetError, match="no true-text file"):
        find_samples(root)

    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="neither"):
        find_samples(tmp_path / "empty")
