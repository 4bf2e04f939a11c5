"""Readers for the HDC2021 folder layouts (real or synthetic, the same code).

Training layout (the Zenodo zips)::

    step{N}/{Times,Verdana}/{CAM01,CAM02}/focusStep_{N}_{timesR,verdanaRef}_size_30_sample_{NNNN}.tif (+ .txt)
    step{N}/{Times,Verdana}/{CAM01,CAM02}/focusStep_{N}_{PSF,LSF_X,LSF_Y}.tif   (calibration targets)

Test layout (the post-challenge test release)::

    steps_{a}_to_{b}/CAM01_focused/<name>.tif + <name>.txt
    steps_{a}_to_{b}/CAM02_blurred/<name>.tif

Sanity (natural) images are named ``focusStep_{N}_Image_{name}.tif``; our
generator puts them under ``step{N}/Sanity/`` in the training layout.
"""

import dataclasses
import re
from pathlib import Path

from hdc.io import TIFF_SUFFIXES, list_tiffs
from hdc.validation import STEPS

FONTS = {"timesR": "Times", "verdanaRef": "Verdana"}
TEXT_NAME = re.compile(r"^focusStep_(?P<step>\d+)_(?P<font>timesR|verdanaRef)_size_30_sample_(?P<sample>\d+)$")
CALIBRATION_NAME = re.compile(r"^focusStep_(?P<step>\d+)_(?P<target>PSF|LSF_X|LSF_Y)$")
NATURAL_NAME = re.compile(r"^focusStep_(?P<step>\d+)_Image_(?P<name>.+)$")
TRAINING_FOLDER = re.compile(r"^step(?P<step>\d+)$")
TEST_FOLDER = re.compile(r"^steps_(?P<low>\d+)_to_(?P<high>\d+)$")


class DatasetError(ValueError):
    """A dataset folder is malformed: an unknown file name or a missing counterpart."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One blurred capture with its sharp counterpart and true text.

    kind : "Times", "Verdana" or "natural".
    key : the sample number (text) or the image name (natural).
    text : path of the true text (None for natural images).
    """

    step: int
    kind: str
    key: object
    blurred: Path
    sharp: Path
    text: Path = None

    @property
    def stem(self):
        return self.blurred.stem


@dataclasses.dataclass(frozen=True)
class CalibrationImage:
    """A PSF or LSF calibration target: step, "PSF"/"LSF_X"/"LSF_Y", camera folder name, path."""

    step: int
    target: str
    camera: str
    path: Path


def parse_name(stem):
    """Classify a file stem.

    Returns
    -------
    ("text", step, font, sample), ("calibration", step, target) or ("natural", step, name).

    Raises
    ------
    DatasetError for a name that follows none of the HDC2021 patterns or a step outside 0..19.
    """
    for kind, pattern in (("text", TEXT_NAME), ("calibration", CALIBRATION_NAME), ("natural", NATURAL_NAME)):
        match = pattern.match(stem)
        if match:
            step = int(match["step"])
            if step not in STEPS:
                raise DatasetError(f"{stem}: step {step} is outside {STEPS[0]}..{STEPS[-1]}")
            if kind == "text":
                return kind, step, FONTS[match["font"]], int(match["sample"])
            if kind == "calibration":
                return kind, step, match["target"]
            return kind, step, match["name"]
    raise DatasetError(f"unknown HDC2021 file name: {stem!r}")


def read_text(path):
    """The lines of a true-text file as the organizers' scorer reads them: ``readlines()``, right-stripped."""
    with open(path) as stream:
        return [line.rstrip() for line in stream.readlines()]


def counterpart(folder, stem, suffixes=TIFF_SUFFIXES):
    """The file `stem` + one of `suffixes` in `folder`, or None."""
    for suffix in suffixes:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def pair_folder(blurred_folder, sharp_folder, text_folders, step_range=None):
    """Pair the TIFFs of a blurred folder with a sharp folder; returns (samples, calibration images)."""
    samples, calibration = [], []
    for path in list_tiffs(blurred_folder):
        parsed = parse_name(path.stem)
        if step_range is not None and parsed[1] not in step_range:
            raise DatasetError(f"{path}: step {parsed[1]} does not belong in folder {blurred_folder.parent.name}")
        if parsed[0] == "calibration":
            calibration.append(CalibrationImage(parsed[1], parsed[2], blurred_folder.name, path))
            continue
        sharp = counterpart(sharp_folder, path.stem)
        if sharp is None:
            raise DatasetError(f"{path.name} has no sharp counterpart in {sharp_folder}")
        text = None
        if parsed[0] == "text":
            text = next((t for t in (counterpart(folder, path.stem, (".txt",)) for folder in text_folders) if t), None)
            if text is None:
                raise DatasetError(f"{path.name} has no true-text file in {' or '.join(map(str, text_folders))}")
        kind = parsed[2] if parsed[0] == "text" else "natural"
        samples.append(Sample(parsed[1], kind, parsed[3] if parsed[0] == "text" else parsed[2], path, sharp, text))
    for path in list_tiffs(sharp_folder):
        parsed = parse_name(path.stem)
        if parsed[0] == "calibration":
            calibration.append(CalibrationImage(parsed[1], parsed[2], sharp_folder.name, path))
        elif counterpart(blurred_folder, path.stem) is None:
            raise DatasetError(f"{path.name} has no blurred counterpart in {blurred_folder}")
    return samples, calibration


def training_layout(root, steps=None):
    """Samples and calibration images of a training-layout folder (``step{N}/<font>/CAM0x``)."""
    root = Path(root)
    samples, calibration = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and TRAINING_FOLDER.match(p.name)):
        step = int(TRAINING_FOLDER.match(folder.name)["step"])
        if steps is not None and step not in steps:
            continue
        for font_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
            blurred, sharp = font_folder / "CAM02", font_folder / "CAM01"
            for needed in (blurred, sharp):
                if not needed.is_dir():
                    raise DatasetError(f"{font_folder} has no {needed.name} folder")
            found, targets = pair_folder(blurred, sharp, (sharp, blurred), range(step, step + 1))
            samples += found
            calibration += targets
    return samples, calibration


def test_layout(root, steps=None):
    """Samples of a test-layout folder (``steps_a_to_b/CAM0x_...``)."""
    root = Path(root)
    samples, calibration = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and TEST_FOLDER.match(p.name)):
        match = TEST_FOLDER.match(folder.name)
        blurred, sharp = folder / "CAM02_blurred", folder / "CAM01_focused"
        for needed in (blurred, sharp):
            if not needed.is_dir():
                raise DatasetError(f"{folder} has no {needed.name} folder")
        found, targets = pair_folder(blurred, sharp, (sharp, blurred), range(int(match["low"]), int(match["high"]) + 1))
        samples += [s for s in found if steps is None or s.step in steps]
        calibration += targets
    return samples, calibration


def find_samples(root, steps=None):
    """Samples of a dataset folder in either layout, detected from its sub-folders; sorted by step, kind, key."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    names = [p.name for p in root.iterdir() if p.is_dir()]
    if any(TRAINING_FOLDER.match(name) for name in names):
        samples, _ = training_layout(root, steps)
    elif any(TEST_FOLDER.match(name) for name in names):
        samples, _ = test_layout(root, steps)
    else:
        raise DatasetError(f"{root} is in neither the training layout (step0, step1, ...) "
                           "nor the test layout (steps_0_to_4, ...)")
    return sorted(samples, key=lambda s: (s.step, s.kind, str(s.key)))
