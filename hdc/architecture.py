"""The networks' hyperparameters, importable without Keras.

Two kinds of step-conditioned network exist (`hdc.model.build_model` builds either):

- "article": the seed article's network (`ArticleArchitecture`), 'valid' convolutions, so its output is
  smaller than its input by `border` pixels on each side;
- "unet": a multi-scale encoder-decoder (`UNetArchitecture`), 'same' convolutions, so its output has its
  input's size, which must be a multiple of `multiple` (one factor 2 per pooling).

A manifest or training config stores an architecture as a dict with a "kind" key ("article" when missing,
as in the first releases), read back by `architecture_from_dict`.
"""

import dataclasses

from hdc.validation import dataclass_from_dict, positive_integer_problems


def _check_positive_integers(architecture, names):
    problems = positive_integer_problems(architecture, names)
    if problems:
        raise ValueError("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class ArticleArchitecture:
    """Hyperparameters of the seed article's network (its defaults).

    dim : channels in the refinement stage.
    subdim : channels of the intermediate preprocessing layers.
    refinements : number of applications of the shared convolution.
    shared_width : kernel width of the shared convolution (odd).
    channels : input channels (image plus its median-filtered versions, and the Wiener channel).
    skip : add to the output logit Σ_c w_c(step) · logit(input_c + 1) over the centre of the input
        (w: a Dense layer of the step, at initialization 1 for the image and 0 for its filtered
        versions: the convolutions start as a correction of the image passed through).
    """

    dim: int = 32
    subdim: int = 32
    refinements: int = 12
    shared_width: int = 5
    channels: int = 5
    skip: bool = False

    kind = "article"
    multiple = 1

    def __post_init__(self):
        _check_positive_integers(self, ("dim", "subdim", "refinements", "shared_width", "channels"))
        if self.shared_width % 2 == 0:
            raise ValueError(f"shared_width must be odd, got {self.shared_width}")
        if not isinstance(self.skip, bool):
            raise ValueError(f"skip must be true or false, got {self.skip!r}")

    @property
    def border(self):
        """Pixels lost on each side: five 3x3 convolutions plus the refinement crops."""
        return 5 + self.refinements * (self.shared_width - 1) // 2

    @property
    def context(self):
        """Half the receptive field in input pixels: the border, all convolutions being 'valid'."""
        return self.border

    def to_dict(self):
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class UNetArchitecture:
    """Hyperparameters of the step-conditioned U-Net.

    widths : channels per level, finest first; each level but the last is followed by a 2x2 average
        pooling, so the input's sides must be multiples of 2^(len(widths) - 1).
    convolutions : 3x3 convolutions per level, in the encoder and in the decoder.
    embedding : width of the step's embedding, from which each convolution's FiLM scale and shift are made.
    channels : input channels.
    """

    widths: tuple = (16, 32, 64, 128, 192)
    convolutions: int = 2
    embedding: int = 64
    channels: int = 6

    kind = "unet"
    border = 0

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(self.widths))
        if len(self.widths) < 2:
            raise ValueError(f"widths must name at least two levels, got {list(self.widths)}")
        if any(isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in self.widths):
            raise ValueError(f"widths must be positive integers, got {list(self.widths)}")
        _check_positive_integers(self, ("convolutions", "embedding", "channels"))

    @property
    def multiple(self):
        """The input's sides must be multiples of this: one factor 2 per pooling."""
        return 2 ** (len(self.widths) - 1)

    @property
    def context(self):
        """Half the theoretical receptive field in input pixels: an output pixel depends on no input pixel
        farther away than this (each 3x3 convolution at level l reaches 2^l pixels, each pooling and its
        upsampling 2^l more)."""
        levels = len(self.widths) - 1
        return sum(2 * self.convolutions * 2 ** level + 2 * 2 ** level for level in range(levels)) \
            + self.convolutions * 2 ** levels

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["widths"] = list(self.widths)
        return {"kind": self.kind, **values}


KINDS = {cls.kind: cls for cls in (ArticleArchitecture, UNetArchitecture)}


def architecture_from_dict(values):
    """The architecture a dict describes ("kind": "article" or "unet"; "article" when missing).

    Raises ValueError naming an unknown kind or unknown keys.
    """
    values = dict(values)
    kind = values.pop("kind", "article")
    if kind not in KINDS:
        raise ValueError(f"unknown architecture kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    return dataclass_from_dict(KINDS[kind], values, f"{kind} architecture")
