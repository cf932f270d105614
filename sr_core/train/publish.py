"""From a training run to the app's bundled weights: export, evaluate, record in the manifest.

``python -m sr_core publish RUN_DIR --eval SET5 SET14`` writes the run's generator as
``weights/<model>.safetensors`` (fp16), scores it with :func:`sr_core.evaluation.evaluate_model`
(the very function ``python -m sr_core evaluate`` prints) and replaces the model's manifest
entry, so the manifest's figures are the ones ``evaluate`` prints and say how the file was made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sr_core.evaluation import evaluate_model, image_files
from sr_core.registry import build_model
from sr_core.train.checkpoint import checkpoint_file, load_checkpoint
from sr_core.train.presets import TrainConfig, from_record
from sr_core.weights import WeightsEntry, read_manifest, save_weights, weights_dir, write_manifest


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


def training_record(config: TrainConfig, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``training`` field: the recipe in a few keys (the full configuration is in the file's metadata)."""
    return {
        "preset": config.preset,
        "steps": checkpoint["step"],
        "data": [Path(folder).name for folder in config.data],
        "training_images": checkpoint["images"],
        "features": checkpoint["features"],
        "init_from": Path(config.init_from).name if config.init_from else "",
        "batch_size": config.batch_size,
        "hr_crop": config.hr_crop,
        "lr": config.lr,
        "trained_with": "python -m sr_core train",
    }


def publish_run(run: str | Path, eval_folders: list[str | Path], folder: str | Path | None = None) -> WeightsEntry:
    """Bundle the generator of ``run`` (a run folder or checkpoint) into the weights ``folder``, scored on ``eval_folders``."""
    checkpoint = load_checkpoint(checkpoint_file(run))
    config = from_record(checkpoint["config"])
    generator = build_model(config.model, **config.model_kwargs)
    generator.load_state_dict(checkpoint["generator"])
    target = weights_dir(folder)
    file = f"{config.model}.safetensors"
    sha256 = save_weights(generator, target / file, export_metadata(checkpoint))
    scores: dict[str, Any] = {}
    for eval_folder in eval_folders:
        score = evaluate_model(config.model, image_files(eval_folder), str(target / file))
        data_name = Path(eval_folder).name.lower()
        scores[f"{data_name}_psnr_y"] = round(score.psnr, 4)
        scores[f"{data_name}_ssim_y"] = round(score.ssim, 5)
    entry = WeightsEntry(
        model=config.model, file=file, sha256=sha256, arch_kwargs=dict(config.model_kwargs),
        training=training_record(config, checkpoint), scores=scores,
    )
    write_manifest({**read_manifest(target), config.model: entry}, target)
    return entry
