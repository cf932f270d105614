"""``python -m sr_core train`` and ``python -m sr_core export``: train a preset, ship its generator.

    python -m sr_core train --preset srresnet --data DIR [DIR ...] --out RUN_DIR [--steps N]
    python -m sr_core train --out RUN_DIR --resume [--steps N]
    torchrun --nproc_per_node 4 -m sr_core train --preset esrgan --init-from RUNS/esrgan_psnr ...
    python -m sr_core export RUN_DIR OUT.safetensors
    python -m sr_core publish RUN_DIR --eval ../shared/data/set5 ../shared/data/set14

A run's configuration is its preset, then ``--config FILE.yaml``, then ``--set KEY=VALUE``,
then the flags below, each overriding the one before. A resumed run keeps the configuration
stored in its checkpoint: the same command may be given again, but only how long and where it
runs may change.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import replace
from pathlib import Path
from typing import Any

from sr_core.errors import TrainingConfigError
from sr_core.train.checkpoint import CHECKPOINT_NAME, checkpoint_file, load_checkpoint
from sr_core.train.distributed import process_group
from sr_core.train.loop import train
from sr_core.train.presets import PRESETS, TrainConfig, from_record, load_yaml, parse_set_pairs, preset, with_overrides
from sr_core.train.publish import export_metadata, publish_run, rescore_bundled, shipped_generator
from sr_core.weights import read_manifest, save_weights

# Flags that set one configuration field each (argparse dest == field name).
FLAG_FIELDS = (
    "data",
    "steps",
    "batch_size",
    "hr_crop",
    "lr",
    "features",
    "init_from",
    "workers",
    "seed",
    "device",
    "threads",
    "validate_every",
    "checkpoint_every",
    "val_crop",
)
# What a resumed run may change without changing what it learns.
RESUMABLE_FIELDS = frozenset({"steps", "workers", "device", "threads", "validate_every", "checkpoint_every"})
_FIELD_NAMES = tuple(field.name for field in dataclasses.fields(TrainConfig))


def run_config(args: argparse.Namespace, checkpoint: dict[str, Any] | None) -> TrainConfig:
    """The run's configuration: the checkpoint's when resuming, else preset < YAML < --set < flags.

    A resumed run accepts the command that started it again (users re-run the same line with
    ``--resume``): every option may be repeated with the run's own value; a different value of
    anything but :data:`RESUMABLE_FIELDS` is refused, naming the run's value and the new one.
    """
    flags = {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name) is not None}
    if checkpoint is not None:
        stored = from_record(checkpoint["config"])
        if args.preset and args.preset != stored.preset:
            raise _changed_on_resume(["preset"], stored, replace(stored, preset=args.preset))
        requested = _configured(stored, args, flags)
        changed = [
            name
            for name in _FIELD_NAMES
            if name not in RESUMABLE_FIELDS and getattr(requested, name) != getattr(stored, name)
        ]
        if changed:
            raise _changed_on_resume(changed, stored, requested)
        return requested
    if not args.preset:
        raise TrainingConfigError(f"pass --preset (one of {', '.join(PRESETS)}) or --resume")
    config = _configured(preset(args.preset), args, flags)
    if not config.data:
        raise TrainingConfigError("pass --data with one or more folders of HR training images")
    return config


def _configured(base: TrainConfig, args: argparse.Namespace, flags: dict[str, Any]) -> TrainConfig:
    """``base`` updated by ``--config``, then ``--set``, then the flags, each overriding the one before."""
    config = with_overrides(base, load_yaml(args.config), str(args.config)) if args.config else base
    config = with_overrides(config, parse_set_pairs(args.set), "--set")
    return with_overrides(config, flags, "command line")


def _changed_on_resume(changed: list[str], stored: TrainConfig, requested: TrainConfig) -> TrainingConfigError:
    values = "; ".join(
        f"{name}: the run has {getattr(stored, name)!r}, the command gives {getattr(requested, name)!r}"
        for name in changed
    )
    return TrainingConfigError(
        f"a resumed run keeps its configuration ({', '.join(changed)} given): {values}; start a new --out to change it"
    )


def _train(args: argparse.Namespace) -> int:
    run_dir = Path(args.out)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME) if args.resume else None
    config = run_config(args, checkpoint)
    with process_group(config.device) as group:
        scores = train(config, run_dir, group, checkpoint=checkpoint, progress=not args.no_progress)
        if group.is_main:
            shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items()) or "no validation images"
            print(f"{config.preset}: {config.steps} steps in {run_dir} ({shown})")
    return 0


def _export(args: argparse.Namespace) -> int:
    checkpoint = load_checkpoint(checkpoint_file(args.checkpoint))
    config = from_record(checkpoint["config"])
    digest = save_weights(shipped_generator(checkpoint), args.output, export_metadata(checkpoint))
    print(f"{config.model} after {checkpoint['step']} steps -> {args.output} (sha256 {digest[:16]})")
    return 0


def _publish(args: argparse.Namespace) -> int:
    entry = publish_run(args.run, args.eval, args.weights_dir)
    shown = ", ".join(f"{key} {value}" for key, value in entry.scores.items()) or "not evaluated"
    print(f"{entry.model} after {entry.training['steps']} steps -> {entry.file} (sha256 {entry.sha256[:16]}; {shown})")
    return 0


def _rescore(args: argparse.Namespace) -> int:
    names = [name.strip() for name in args.models.split(",") if name.strip()] or list(read_manifest())
    for entry in rescore_bundled(names, args.eval):
        print(f"{entry.model}: " + ", ".join(f"{key} {value}" for key, value in entry.scores.items()))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``, ``export``, ``publish`` and ``rescore`` (their one-line help is in :data:`studio.cli.COMMANDS`)."""
    trainer = subparsers.add_parser("train")
    trainer.add_argument("--preset", choices=list(PRESETS), help="the paper's recipe to start from")
    trainer.add_argument("--data", nargs="+", help="folders of HR training images (every 20th image validates)")
    trainer.add_argument("--out", required=True, help="run folder: checkpoint last.pt, metrics.csv, report.html")
    trainer.add_argument("--steps", type=int, help="total training steps (a resumed run may extend them)")
    trainer.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    trainer.add_argument("--config", help="a YAML file of setting: value lines")
    trainer.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)"
    )
    trainer.add_argument(
        "--features",
        help="content-loss network: imagenet (default: torchvision's VGG19/MobileNetV2 where it can fetch them, "
        "else the packaged VGG16/EfficientNet-Lite0), packaged (those at once), random (smoke tests), "
        "or a torchvision weights file",
    )
    trainer.add_argument("--init-from", dest="init_from", help="start the generator from a run folder or weights file")
    trainer.add_argument("--batch-size", dest="batch_size", type=int, help="global batch, split over processes")
    trainer.add_argument("--hr-crop", dest="hr_crop", type=int, help="HR crop side in px (multiple of 4)")
    trainer.add_argument("--lr", type=float, help="learning rate of generator and discriminator")
    trainer.add_argument("--workers", type=int, help="data loader worker processes")
    trainer.add_argument("--seed", type=int)
    trainer.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the best available)")
    trainer.add_argument("--threads", type=int, help="CPU threads per process")
    trainer.add_argument("--validate-every", dest="validate_every", type=int)
    trainer.add_argument("--checkpoint-every", dest="checkpoint_every", type=int)
    trainer.add_argument("--val-crop", dest="val_crop", type=int, help="centre-crop validation images to this side")
    trainer.add_argument("--no-progress", action="store_true", help="no progress bar")
    trainer.set_defaults(handler=_train)

    exporter = subparsers.add_parser("export")
    exporter.add_argument("checkpoint", help="a run folder or its checkpoint file (RUN_DIR/last.pt)")
    exporter.add_argument("output", help="the .safetensors file to write")
    exporter.set_defaults(handler=_export)

    publisher = subparsers.add_parser("publish")
    publisher.add_argument("run", help="a run folder or its checkpoint file")
    publisher.add_argument(
        "--eval", nargs="*", default=[], metavar="DIR", help="HR folders to score it on (e.g. Set5 Set14)"
    )
    publisher.add_argument(
        "--weights-dir", dest="weights_dir", help="the weights folder (default: SR_STUDIO_WEIGHTS_DIR or weights/)"
    )
    publisher.set_defaults(handler=_publish)

    rescorer = subparsers.add_parser("rescore")
    rescorer.add_argument("--eval", nargs="+", required=True, metavar="DIR", help="HR folders (e.g. Set5 Set14)")
    rescorer.add_argument("--models", default="", help="comma-separated bundled models (default: every one)")
    rescorer.set_defaults(handler=_rescore)
