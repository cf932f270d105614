"""From a training run to the app's bundled weights: export, evaluate, record in the manifest.

``python -m sr_core publish RUN_DIR --eval SET5 SET14`` writes the run's generator as
``weights/<model>.safetensors`` (fp16), scores it with :func:`sr_core.evaluation.evaluate_model`
(the very function ``python -m sr_core evaluate`` prints) and replaces the model's manifest
entry, so the manifest's figures are the ones ``evaluate`` prints and say how the file was made.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from torch import nn

from sr_core.errors import WeightsNotFoundError
from sr_core.evaluation import evaluate_model, manifest_scores
from sr_core.protocol import image_files
from sr_core.registry import build_model
from sr_core.train.checkpoint import checkpoint_file, is_run_checkpoint, load_checkpoint, shipped_generator_state
from sr_core.train.presets import TrainConfig, from_record, preset, to_record
from sr_core.weights import WeightsEntry, parent_stages, read_manifest, save_weights, weights_dir, write_manifest


def export_metadata(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Provenance of an exported generator: what trained it, on what, for how long, and how well it scores."""
    config = from_record(checkpoint["config"])
    scores = {f"validation_{name}": value for name, value in checkpoint["validation"].items()}
    bicubic = {f"validation_bicubic_{name}": value for name, value in checkpoint["bicubic"].items()}
    return {
        "model": config.model,
        "model_kwargs": json.dumps(config.model_kwargs),
        "preset": config.preset,
        "steps": checkpoint["step"],
        "data": list(config.data),
        "images": checkpoint["images"],
        "features": checkpoint["features"],
        "init_from": config.init_from or "",
        "trained_with": "python -m sr_core train",
        **scores,
        **bicubic,
    }


# Settings that say where and how fast a run went, not what it learnt: left out of the recipe's departures.
_BOOKKEEPING = {
    "data",
    "steps",
    "init_from",
    "workers",
    "threads",
    "device",
    "validate_every",
    "checkpoint_every",
    "val_crop",
    "features",
    "amp",
}


def departures_from_preset(config: TrainConfig) -> dict[str, Any]:
    """Every learning setting of ``config`` that differs from its paper preset, e.g. ``{"lr": 0.0002}``.

    Our CPU runs shorten and adapt the papers' recipes; the manifest says exactly how, so a reader
    can tell a paper's model from our approximation of it.
    """
    run, paper = to_record(config), to_record(preset(config.preset))
    return {key: value for key, value in run.items() if key not in _BOOKKEEPING and value != paper[key]}


# Deeper than any real chain of stages (PSNR -> fine-tune -> GAN): stops a loop of init_from paths.
_MAX_STAGES = 16


def _stage(config: TrainConfig, steps: int) -> dict[str, Any]:
    """One training stage as the manifest lists it."""
    return {
        "preset": config.preset,
        "steps": steps,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "hr_crop": config.hr_crop,
        "changed_from_preset": departures_from_preset(config),
    }


def training_stages(checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage that led to this generator, first to last, following ``init_from`` back through run checkpoints.

    A GAN starts from a PSNR run, and a CPU run may be fine-tuned at a lower learning rate: the
    last stage's step count alone would understate the training. A chain that ends in a weights
    file continues with the stages that file had when the run started from it (see
    :func:`parent_stages`), so publishing a run twice, after its first publish replaced the very
    file it started from, still counts each stage once.
    """
    stages: list[dict[str, Any]] = []
    current = checkpoint
    while len(stages) < _MAX_STAGES:
        config = from_record(current["config"])
        stages.insert(0, _stage(config, current["step"]))
        if not config.init_from:
            break
        path = checkpoint_file(config.init_from)
        if not is_run_checkpoint(path):
            recorded = current.get("parent_stages")
            stages[:0] = recorded if recorded is not None else parent_stages(path)
            break
        current = load_checkpoint(path)
    return stages


def training_record(config: TrainConfig, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``training`` field: the recipe in a few keys (the full configuration is in the file's metadata)."""
    stages = training_stages(checkpoint)
    return {
        "preset": config.preset,
        "steps": checkpoint["step"],
        "total_steps": sum(stage.get("steps", 0) for stage in stages),
        "stages": stages,
        "data": [Path(folder).name for folder in config.data],
        "training_images": checkpoint["images"],
        "features": checkpoint["features"],
        "init_from": Path(config.init_from).name if config.init_from else "",
        "batch_size": config.batch_size,
        "hr_crop": config.hr_crop,
        "lr": config.lr,
        "changed_from_preset": departures_from_preset(config),
        "trained_with": "python -m sr_core train",
    }


def shipped_generator(checkpoint: dict[str, Any]) -> nn.Module:
    """The network a run's checkpoint ships (its moving average when the run keeps one), built as the run built it."""
    config = from_record(checkpoint["config"])
    generator = build_model(config.model, **config.model_kwargs)
    generator.load_state_dict(shipped_generator_state(checkpoint))
    return generator


def publish_run(run: str | Path, eval_folders: list[str | Path], folder: str | Path | None = None) -> WeightsEntry:
    """Bundle the generator of ``run`` (a run folder or checkpoint) into the weights ``folder``, scored on ``eval_folders``."""
    checkpoint = load_checkpoint(checkpoint_file(run))
    config = from_record(checkpoint["config"])
    generator = shipped_generator(checkpoint)
    target = weights_dir(folder)
    file = f"{config.model}.safetensors"
    training = training_record(config, checkpoint)  # before the save: a fine-tune of this very file reads its history
    sha256 = save_weights(generator, target / file, export_metadata(checkpoint))
    scores: dict[str, Any] = {}
    for eval_folder in eval_folders:
        scores.update(
            manifest_scores(evaluate_model(config.model, image_files(eval_folder), str(target / file)), eval_folder)
        )
    entry = WeightsEntry(
        model=config.model,
        file=file,
        sha256=sha256,
        arch_kwargs=dict(config.model_kwargs),
        training=training,
        scores=scores,
    )
    write_manifest({**read_manifest(target), config.model: entry}, target)
    return entry


def rescore_bundled(names: list[str], eval_folders: list[str | Path]) -> list[WeightsEntry]:
    """Re-measure the manifest scores of bundled models on ``eval_folders`` with today's metrics.

    When a metric joins the protocol (LPIPS, the stripe score), the shipped files stay as they
    are and only their scores are measured again, by the function ``evaluate`` prints from; an
    int8 model is scored as both kinds of CPU run it. Each entry is written as soon as it is
    measured, so an interrupted rescore keeps what it finished.
    """
    from sr_core.quant.publish import scores_on_both_kinds_of_cpu
    from sr_core.registry import get_spec

    manifest, rescored = read_manifest(), []
    folders = [Path(folder) for folder in eval_folders]
    for name in names:
        if name not in manifest:
            raise WeightsNotFoundError(
                f"{name!r} is not in the manifest of {weights_dir()}; bundled: {', '.join(manifest)}"
            )
        entry = manifest[name]
        if get_spec(name).kind == "int8":
            scores = scores_on_both_kinds_of_cpu(name, folders)
        else:
            scores = {}
            for folder in folders:
                scored = evaluate_model(name, image_files(folder), str(weights_dir() / entry.file))
                scores.update(manifest_scores(scored, folder))
        entry = dataclasses.replace(entry, scores={**entry.scores, **scores})
        manifest = {**read_manifest(), name: entry}
        write_manifest(manifest)
        rescored.append(entry)
    return rescored
