"""The validated configuration of a training run, saved as RUN_DIR/config.json, and its learning-rate schedule.

Importing this module imports neither TensorFlow nor Keras, so the CLI refuses a bad option at once.
"""

import dataclasses
from pathlib import Path

from hdc.physics import CAMERA_MODELS, NOMINAL_RADIUS
from hdc.text import FONT_POOLS
from hdc.validation import STEPS, dataclass_from_dict, positive_integer_problems

CONFIG_NAME = "config.json"
# Options that --resume may change: the length of the run and its schedule, not its data.
RESUMABLE = ("samples", "decay_start", "decay_half_life", "checkpoint_minutes", "log_every", "central_fraction",
             "natural_weight", "shading")


@dataclasses.dataclass
class TrainingConfig:
    """Everything that defines a training run; saved as config.json beside its weights.

    The data:
    data : "synthetic" or the path of a real dataset folder (official training layout).
    steps : blur steps to train on.
    per_step : synthetic images per step in the cache.
    natural_fraction : share of blurred natural images (the sanity check), synthetic data only.
    reduction : the synthetic generator works at 1/reduction of full resolution.
    fonts : the synthetic text's fonts: "look-alikes" (of the challenge's two) or "wide" (with
        `hdc.text.TRAINING_FAMILIES`, other shapes, widths and monospaced faces) or "varied" (those, each text's
        glyphs also bolder or lighter, stretched and slanted: `hdc.text.GLYPH_VARIATION`).
    camera : the blurred cameras: "calibrated" (on the real captures), "varied" (also other apertures, more
        noise, a display-encoded response, a blur growing across the field: `hdc.physics.vary_camera`) or "noisy"
        (only the noise drawn stronger: `hdc.physics.noisy_camera`).
    seed : seed of the data order, crops and synthetic samples, and of the initial weights.

    The network and its inputs:
    scale : working scale (7 means 1:7).
    median_widths : median filter widths of the input channels.
    wiener_balance : regularization of the Wiener-deconvolved input channel (None: no such channel).
    radii : disc radius per step 0..19 (full-size pixels) that the Wiener channel assumes; default
        `hdc.physics.NOMINAL_RADIUS`.
    wiener_ranges : None for that one disc per step, or (low, high) radii per step (full-size pixels; the CLI's
        `--wiener-ranges draws` takes our training draws, `hdc.physics.RADIUS_RANGE`): the Wiener channel is
        then the filter for the whole range (`hdc.preprocessing.spread_wiener_deconvolve`).
    radius_source : "nominal", or "estimated": each capture's own radius where it is plausible, the step's
        otherwise (`hdc.preprocessing.Preprocessor.blur_radii`), in the cache as at inference.
    architecture : fields of an `hdc.architecture` architecture, with its "kind" ("article" when missing,
        or "unet").
    init_from : a release folder (e.g. weights/) whose weights start the run instead of random ones; its
        network may have fewer input channels (the new channels' kernels start at zero). Empty: random start.

    The crops:
    crop : side of the square training crops (working-scale pixels).
    central_fraction : share of crops centred in the text area; the others fall anywhere, so that the
        network also learns that the paper far from the text is white.
    step_weight : how much more often step 19 is drawn than step 0 (linear in between; 1 = uniform).
    natural_weight : how much more often a natural image is drawn than a text image of the same step.
    curriculum : crops over which the highest step drawn ramps from steps[len//2] up to the last step (0 = off).
    shading : amplitude of a random smooth shading laid over the inputs of text crops, not their targets
        (`hdc.train.batches.shaded`; 0 = off): the flattening's residual on real captures. With a flattened paper
        0.02-0.05 above its level the released network drew grey blobs into the frame's corners, read as a
        fourth line on the real step-15 capture. Patches of up to twice the amplitude at the frame's corners
        are part of it (the real step-14 captures' darker corners).

    The optimization:
    batch : crops per batch.
    samples : total crops to train on.
    learning_rate : Adam's initial rate (the article: 10^-2.5).
    decay_start, decay_half_life : after `decay_start` crops the rate halves every `decay_half_life` crops.
    mixed_precision : train in mixed_bfloat16.

    The bookkeeping:
    validation_fraction : images held out (by sample, never by crop) for the validation loss.
    validation_crops : crops in the fixed validation set.
    checkpoint_minutes : minutes between checkpoints.
    log_every : crops between log lines.
    """

    data: str = "synthetic"
    steps: list = dataclasses.field(default_factory=lambda: list(STEPS))
    per_step: int = 200
    natural_fraction: float = 0.1
    reduction: int = 2
    fonts: str = "look-alikes"
    camera: str = "calibrated"
    seed: int = 0

    scale: float = 7.0
    median_widths: list = dataclasses.field(default_factory=lambda: [3, 5, 7, 9])
    wiener_balance: float | None = 0.01
    radii: list = dataclasses.field(default_factory=lambda: list(NOMINAL_RADIUS))
    wiener_ranges: list | None = None
    radius_source: str = "nominal"
    architecture: dict = dataclasses.field(default_factory=dict)
    init_from: str = ""

    crop: int = 128
    central_fraction: float = 0.4
    step_weight: float = 2.0
    natural_weight: float = 1.0
    curriculum: int = 40_000
    shading: float = 0.0

    batch: int = 32
    samples: int = 400_000
    learning_rate: float = 10 ** -2.5
    decay_start: int = 200_000
    decay_half_life: int = 100_000
    mixed_precision: bool = True

    validation_fraction: float = 0.1
    validation_crops: int = 512
    checkpoint_minutes: float = 5.0
    log_every: int = 4096

    def __post_init__(self):
        from hdc.architecture import architecture_from_dict

        self.architecture = architecture_from_dict({**self.architecture, "channels": self.preprocessor().channels})
        problems = []
        if self.wiener_balance is not None and not self.wiener_balance > 0:
            problems.append(f"wiener_balance must be positive, or null for no Wiener channel; got "
                            f"{self.wiener_balance}")
        if not self.steps or any(isinstance(s, bool) or not isinstance(s, int) or s not in STEPS for s in self.steps):
            problems.append(f"steps must be integers in {STEPS[0]}..{STEPS[-1]}, got {self.steps}")
        if self.crop <= 2 * self.architecture.border:
            problems.append(f"crop must exceed twice the network border {self.architecture.border}, got {self.crop}")
        if self.crop % self.architecture.multiple:
            problems.append(f"crop must be a multiple of {self.architecture.multiple} for this network, "
                            f"got {self.crop}")
        problems += positive_integer_problems(self, ("per_step", "batch", "samples", "validation_crops", "log_every",
                                                     "reduction"))
        if self.fonts not in FONT_POOLS:
            problems.append(f"fonts must be one of {', '.join(FONT_POOLS)}, got {self.fonts!r}")
        if self.camera not in CAMERA_MODELS:
            problems.append(f"camera must be one of {', '.join(CAMERA_MODELS)}, got {self.camera!r}")
        if not 0 <= self.shading < 0.5:
            problems.append(f"shading must be in [0, 0.5), got {self.shading}")
        for name in ("natural_fraction", "validation_fraction", "central_fraction"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not (self.learning_rate > 0 and self.scale > 0 and self.step_weight > 0 and self.natural_weight > 0):
            problems.append("learning_rate, scale, step_weight and natural_weight must be positive")
        if self.data != "synthetic" and not Path(self.data).is_dir():
            problems.append(f"data must be 'synthetic' or a dataset folder, got {self.data!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def preprocessor(self):
        """The `hdc.preprocessing.Preprocessor` that makes this run's network inputs."""
        from hdc.preprocessing import Preprocessor

        return Preprocessor(self.scale, self.median_widths, self.wiener_balance, self.radii, self.radius_source,
                            self.wiener_ranges)

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["architecture"] = self.architecture.to_dict()
        return values

    @classmethod
    def from_dict(cls, values):
        return dataclass_from_dict(cls, values, "configuration")


def learning_rate_at(config, seen):
    """Adam's rate after `seen` crops: constant, then halving every `decay_half_life` crops."""
    if seen <= config.decay_start:
        return config.learning_rate
    return config.learning_rate * 0.5 ** ((seen - config.decay_start) / config.decay_half_life)
