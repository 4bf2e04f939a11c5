"""The weights manifest: which weights file, architecture and working scale serve each step.

``weights/manifest.json`` looks like::

    {
      "format": 1,
      "models": {
        "scale7": {"file": "scale7.weights.h5", "sha256": "...", "scale": 7,
                   "median_widths": [3, 5, 7, 9], "wiener_balance": 0.01, "radii": [1.0, 4.0, ...],
                   "architecture": {"kind": "article", "dim": 32, ...}}
      },
      "steps": {"0": "scale7", "1": "scale7", ..., "19": "scale7"},
      "consistency": {"0": {"weight": 0.1, "input_share": 0.3}, ...}
    }

One shared step-conditioned model may serve every step; a step may name
another model to override it. "wiener_balance" (optional) adds the Wiener
input channel (`hdc.preprocessing.Preprocessor`); "radii" (optional, 20 values,
default `hdc.physics.NOMINAL_RADIUS`) are the disc radii per step in full-size
pixels that this channel and the data consistency assume, the ones the model
was trained with; "radius_source" (optional) "estimated" replaces the step's
radius or range by each image's own estimate where it is plausible
(`hdc.preprocessing.Preprocessor.blur_radii`); "wiener_ranges" (optional, 20 pairs
of full-size radii) makes the Wiener channel the filter for each step's whole
range of radii instead of one disc's. "consistency" (optional,
per step) makes the output agree with the input through the known blur
(`hdc.postprocessing`); it is tuned for the weights it sits beside
(`evaluation.consistency`).
"""

import dataclasses
import hashlib
import json
from pathlib import Path

from hdc.architecture import architecture_from_dict
from hdc.physics import NOMINAL_RADIUS
from hdc.postprocessing import Consistency
from hdc.preprocessing import Preprocessor
from hdc.validation import STEPS

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


class WeightsError(ValueError):
    """The weights folder, its manifest or a weights file is missing or invalid."""


def default_weights_dir():
    """The `weights/` folder shipped beside the `hdc` package."""
    return Path(__file__).resolve().parent.parent / "weights"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest: a weights file and how to run it."""

    name: str
    path: Path
    sha256: str
    scale: float
    median_widths: tuple
    architecture: object  # hdc.architecture.ArticleArchitecture or UNetArchitecture
    wiener_balance: float = None
    radii: tuple = NOMINAL_RADIUS
    radius_source: str = "nominal"
    wiener_ranges: tuple = None
    destripe: bool = False
    aperture: bool = False

    def to_entry(self):
        """The manifest entry (JSON-ready dict) for this spec, relative to its folder."""
        entry = {"file": self.path.name, "sha256": self.sha256, "scale": self.scale,
                 "median_widths": list(self.median_widths), "architecture": self.architecture.to_dict()}
        if self.wiener_balance is not None:
            entry["wiener_balance"] = self.wiener_balance
        entry["radii"] = list(self.radii)
        if self.radius_source != "nominal":
            entry["radius_source"] = self.radius_source
        if self.wiener_ranges is not None:
            entry["wiener_ranges"] = [list(pair) for pair in self.wiener_ranges]
        for option in ("destripe", "aperture"):
            if getattr(self, option):
                entry[option] = True
        return entry

    def preprocessor(self):
        """The `hdc.preprocessing.Preprocessor` that makes this model's inputs."""
        return Preprocessor(self.scale, self.median_widths, self.wiener_balance, self.radii, self.radius_source,
                            self.wiener_ranges, self.destripe, self.aperture)

    @property
    def channels(self):
        """Input channels its preprocessing makes."""
        return self.preprocessor().channels


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder):
    """Load and validate `folder`/manifest.json; returns the parsed dict."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise WeightsError(f"no weights manifest at {path}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"weights manifest {path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise WeightsError(f"weights manifest {path} must be an object with \"format\": {MANIFEST_FORMAT}")
    if not isinstance(manifest.get("models"), dict) or not isinstance(manifest.get("steps"), dict):
        raise WeightsError(f"weights manifest {path} needs \"models\" and \"steps\" objects")
    return manifest


def model_spec(folder, step):
    """The `ModelSpec` serving `step` according to the manifest in `folder`.

    Raises `WeightsError` when the step is not covered, the entry is
    incomplete, the file is missing, or its SHA-256 does not match.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    name = manifest["steps"].get(str(step))
    if name is None:
        raise WeightsError(f"the weights manifest in {folder} covers no model for step {step}")
    entry = manifest["models"].get(name)
    if not isinstance(entry, dict):
        raise WeightsError(f"the weights manifest names model {name!r} for step {step} but does not define it")
    try:
        for option in ("destripe", "aperture"):
            if not isinstance(entry.get(option, False), bool):
                raise ValueError(f"{option} must be true or false, got {entry[option]!r}")
        spec = ModelSpec(name=name, path=folder / entry["file"], sha256=str(entry["sha256"]),
                         scale=float(entry["scale"]), median_widths=tuple(int(w) for w in entry["median_widths"]),
                         architecture=architecture_from_dict(entry["architecture"]),
                         wiener_balance=None if entry.get("wiener_balance") is None
                         else float(entry["wiener_balance"]),
                         radii=tuple(float(radius) for radius in entry.get("radii", NOMINAL_RADIUS)),
                         radius_source=entry.get("radius_source", "nominal"),
                         wiener_ranges=None if entry.get("wiener_ranges") is None
                         else tuple(tuple(float(v) for v in pair) for pair in entry["wiener_ranges"]),
                         destripe=entry.get("destripe", False), aperture=entry.get("aperture", False))
        channels = spec.channels
    except (KeyError, TypeError, ValueError) as error:
        raise WeightsError(f"model {name!r} in the weights manifest is incomplete or invalid: {error}") from None
    if spec.architecture.channels != channels:
        raise WeightsError(f"model {name!r}: {spec.architecture.channels} input channels but its preprocessing "
                           f"makes {channels} ({len(spec.median_widths)} median widths, "
                           f"{'a' if spec.wiener_balance is not None else 'no'} Wiener channel)")
    if not spec.path.is_file():
        raise WeightsError(f"weights file {spec.path} (model {name!r}, step {step}) is missing")
    if file_sha256(spec.path) != spec.sha256:
        raise WeightsError(f"weights file {spec.path} is corrupt: its SHA-256 does not match the manifest")
    return spec


def consistency_for(folder, step):
    """The `hdc.postprocessing.Consistency` of `step` in the manifest in `folder`, or None when it has none."""
    folder = Path(folder)
    table = read_manifest(folder).get("consistency", {})
    if not isinstance(table, dict):
        raise WeightsError(f"the weights manifest in {folder}: \"consistency\" must be an object")
    entry = table.get(str(step))
    if entry is None:
        return None
    try:
        return Consistency.from_dict(entry)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise WeightsError(f"the weights manifest in {folder}: consistency of step {step} is invalid: "
                           f"{error}") from None


def write_manifest(folder, specs, steps, consistency=None):
    """Write a manifest for `specs` (list of `ModelSpec`), `steps` ({step: model name}) and optionally
    `consistency` ({step: `hdc.postprocessing.Consistency`})."""
    manifest = {"format": MANIFEST_FORMAT,
                "models": {spec.name: spec.to_entry() for spec in specs},
                "steps": {str(step): name for step, name in sorted(steps.items())}}
    if consistency:
        manifest["consistency"] = {str(step): value.to_dict() for step, value in sorted(consistency.items())}
    (Path(folder) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_consistency(folder, table):
    """Set the data consistency of the steps in `table` ({step: `hdc.postprocessing.Consistency`, or None for
    the network's output alone}) in the manifest in `folder`, keeping the rest of the manifest (and the other
    steps' consistency)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    merged = manifest.get("consistency", {})
    for step, value in table.items():
        if value is None:
            merged.pop(str(step), None)
        else:
            merged[str(step)] = value.to_dict()
    manifest["consistency"] = dict(sorted(merged.items(), key=lambda item: int(item[0])))
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def export_model(model, folder, name, scale, median_widths, architecture, wiener_balance=None, radii=NOMINAL_RADIUS,
                 wiener_ranges=None, radius_source="nominal", steps=STEPS):
    """Save `model`'s weights as `folder`/<name>.weights.h5 and a manifest serving `steps` with it.

    Returns the `ModelSpec` written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.weights.h5"
    model.save_weights(path)
    spec = ModelSpec(name=name, path=path, sha256=file_sha256(path), scale=float(scale),
                     median_widths=tuple(median_widths), architecture=architecture, wiener_balance=wiener_balance,
                     radii=tuple(float(radius) for radius in radii), radius_source=radius_source,
                     wiener_ranges=None if wiener_ranges is None else tuple(tuple(pair) for pair in wiener_ranges))
    write_manifest(folder, [spec], {step: name for step in steps})
    return spec
