"""Training: ``python -m hdc.train RUN_DIR [options] [--resume]`` (see `hdc.train.loop` for the run folder).

Every option is checked, and the config validated, before TensorFlow is imported.
"""

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from hdc.architecture import KINDS
from hdc.cli import fail, steps_argument
from hdc.physics import CAMERA_MODELS, RADIUS_RANGE
from hdc.preprocessing import RADIUS_SOURCES
from hdc.text import FONT_POOLS
from hdc.train.config import CONFIG_NAME, RESUMABLE, TrainingConfig
from hdc.train.release import release, seed_from_release


def balance_option(text):
    """The --wiener-balance option: a positive regularization weight, or "none" for no Wiener channel."""
    if text.lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or none, got {text!r}") from None


def architecture_option(text):
    """The --architecture option: a kind name or a JSON object of architecture fields, as a dict."""
    if text in KINDS:
        return {"kind": text}
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError(f"expected {' or '.join(sorted(KINDS))} or a JSON object, got {text!r}")
    return values


def parse_arguments(argv):
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(prog="python -m hdc.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="run folder (config, cache, checkpoints, log, weights)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--config", type=Path, help="JSON file of TrainingConfig fields (options below override it)")
    parser.add_argument("--cache", type=Path, help="cache folder to use instead of RUN_DIR/cache (can be shared)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="tf.distribute strategy: mirrored over local GPUs, or multi-worker through TF_CONFIG")
    parser.add_argument("--max-minutes", type=float, help="stop (after a checkpoint) after this many minutes")
    parser.add_argument("--export", action="store_true",
                        help="write RUN_DIR/weights from its last checkpoint instead of training (no cache needed)")
    parser.add_argument("--release", type=Path, metavar="DIR",
                        help="after training, copy weights, manifest, config, log, plot and checkpoint to DIR")
    parser.add_argument("--from-release", type=Path, metavar="DIR",
                        help="with --resume: start RUN_DIR from a release folder (e.g. weights/) and continue it")
    parser.add_argument("--architecture", type=architecture_option, metavar="KIND|JSON",
                        help='the network: "article" (default), "unet", or a JSON object of hdc.architecture fields '
                             'with its "kind", e.g. \'{"kind": "unet", "widths": [24, 48, 96, 192, 256]}\'')
    parser.add_argument("--quiet", action="store_true")
    for field in dataclasses.fields(TrainingConfig):
        if field.name in ("architecture", "median_widths", "radii"):  # through --config only
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, type=lambda text: text.lower() in ("1", "true", "yes"), default=None,
                                metavar="BOOL")
        elif isinstance(default, list):
            parser.add_argument(flag, type=steps_argument, default=None, metavar="0-19")
        elif field.name == "wiener_balance":
            parser.add_argument(flag, type=balance_option, default=None, metavar="BALANCE|none")
        elif field.name == "radius_source":
            parser.add_argument(flag, choices=RADIUS_SOURCES, default=None,
                                help="estimated: the Wiener channel and the data consistency use each capture's own "
                                     "radius where it is plausible")
        elif field.name == "fonts":
            parser.add_argument(flag, choices=FONT_POOLS, default=None,
                                help="wide: the synthetic text also in other families than the look-alikes; varied: "
                                     "those with each text's stroke weight, width and slant varied")
        elif field.name == "camera":
            parser.add_argument(flag, choices=CAMERA_MODELS, default=None,
                                help="varied: the blurred cameras also with other apertures, more noise, a display-"
                                     "encoded response and a blur growing across the field; noisy: only more noise")
        elif field.name == "wiener_ranges":
            parser.add_argument(flag, choices=("draws", "none"), default=None,
                                help="draws: the Wiener channel covers each step's range of training radii")
        else:
            parser.add_argument(flag, type=type(default), default=None)
    return parser.parse_args(argv)


def resolve_config(arguments):
    """The run's config: config.json when resuming, else --config and the options; validated."""
    path = arguments.run_dir / CONFIG_NAME
    options = {field.name: getattr(arguments, field.name) for field in dataclasses.fields(TrainingConfig)
               if getattr(arguments, field.name, None) is not None}
    if options.get("wiener_balance") == "none":
        options["wiener_balance"] = None
    if "wiener_ranges" in options:
        options["wiener_ranges"] = None if options["wiener_ranges"] == "none" else [list(pair) for pair in RADIUS_RANGE]
    if (arguments.resume or arguments.export) and path.is_file():
        values = json.loads(path.read_text())
        changed = {k: v for k, v in options.items() if values.get(k) != v and k not in RESUMABLE}
        if changed:
            raise ValueError(f"--resume keeps the run's config.json; these options differ from it: {sorted(changed)}")
        values.update({k: v for k, v in options.items() if k in RESUMABLE})
        return TrainingConfig.from_dict(values)
    if arguments.export:
        raise ValueError(f"{arguments.run_dir} holds no {CONFIG_NAME} of a run to export")
    if path.is_file() and not arguments.resume:
        raise ValueError(f"{arguments.run_dir} already holds a run; use --resume or another folder")
    values = json.loads(arguments.config.read_text()) if arguments.config else {}
    values.update(options)
    return TrainingConfig.from_dict(values)


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        if arguments.from_release:
            if not arguments.resume:
                raise ValueError("--from-release goes with --resume")
            seed_from_release(arguments.run_dir, arguments.from_release)
        config = resolve_config(arguments)
        resuming = arguments.resume and (arguments.run_dir / "checkpoints" / "checkpoint").is_file()
        if config.init_from and not (resuming or arguments.export) and not Path(config.init_from).is_dir():
            raise ValueError(f"init_from must be a release folder, got {config.init_from!r}")
    except (ValueError, OSError, json.JSONDecodeError) as error:
        return fail(error)
    arguments.run_dir.mkdir(parents=True, exist_ok=True)
    (arguments.run_dir / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if arguments.export:
        from hdc.train.trainer import export_checkpoint
        try:
            export_checkpoint(arguments.run_dir, config)
        except ValueError as error:
            return fail(error)
        print(f"weights of the last checkpoint in {arguments.run_dir / 'weights'}")
    else:
        from hdc.train.loop import train
        loss, validation = train(arguments.run_dir, config, arguments.cache, arguments.strategy, arguments.resume,
                                 not arguments.quiet, arguments.max_minutes)
        shown = validation if validation is None else round(validation, 4)
        print(f"training loss {loss:.4f}, validation loss {shown}; weights in {arguments.run_dir / 'weights'}")
    if arguments.release:
        release(arguments.run_dir, arguments.release)
        print(f"released to {arguments.release}; tune its data consistency next (python -m evaluation.consistency "
              f"{arguments.release} --text DIR... --natural DIR...): without it the outputs are the network's alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
