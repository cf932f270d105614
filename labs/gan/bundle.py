"""The image-GAN runs bundled with SR Studio in ``assets/gan_runs``: written from run folders by ``gan-bundle``.

Each bundled run is a run folder in miniature, so the GAN Lab reads it like a user's own run:
config.json, summary.json (the scores), metrics.csv (thinned), the sample grid of the final
generator (samples/step_N.png) and generator.safetensors in fp16; no checkpoint. manifest.json lists
every file with its sha256, how each run was trained and its scores, as ``weights/manifest.json``
does for the SR models. The MNIST classifier whose features gave the scores is bundled beside
them, so scores can be re-checked and samples classified without MNIST at hand.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from labs.gan.classifier import CLASSIFIER_FILE
from labs.gan.errors import GanSettingError
from labs.gan.plots import read_metrics
from labs.gan.runs import RunInfo, read_run, runs_root
from labs.gan.trainer import (
    CONFIG_FILE,
    GENERATOR_FILE,
    METRICS_FILE,
    PREVIEW_COUNT,
    SAMPLES_DIR,
    SUMMARY_FILE,
    TrainedRun,
    evaluate_run,
    open_run,
    save_grid,
)
from sr_core.files import atomic_target
from sr_core.settings import APP_ROOT
from sr_core.weights import read_metadata, save_weights, sha256_file

MANIFEST_FILE = "manifest.json"
METRICS_ROWS = 500  # rows kept per run: the curves are smoothed over 1% of a run anyway
MAX_BUNDLE_BYTES = 15 * 2**20
GRID_PADDING, LABEL_HEIGHT = 2, 14  # pixels: the white gap of a sample grid, the caption strip above each


BUNDLED_RUNS = APP_ROOT / "assets" / "gan_runs"
"""Where the bundled runs live: beside the app's other assets, since ``weights/`` holds only the SR manifest's files."""


def bundled_runs_dir() -> Path:
    """The folder of the bundled runs (:data:`BUNDLED_RUNS`)."""
    return BUNDLED_RUNS


def lab_sources() -> dict[str, Path]:
    """What the GAN Lab shows, source name -> runs folder: the bundled runs, then ``SR_STUDIO_GAN_RUNS``'s."""
    return {"bundled": bundled_runs_dir(), str(runs_root()): runs_root()}


def thin_metrics(metrics: dict[str, np.ndarray], max_rows: int = METRICS_ROWS) -> dict[str, np.ndarray]:
    """Columns of a metrics.csv cut to at most ``max_rows`` rows by averaging blocks of consecutive steps.

    A block's ``step`` is its last step and its ``seconds`` the block's sum, so the curves keep
    their shape (noise averaged, not aliased as by keeping every n-th step) and the run's total
    training time stays the column's sum.
    """
    rows = len(metrics.get("step", ()))
    block = -(-rows // max_rows)
    if block <= 1:
        return metrics
    starts = np.arange(0, rows, block)
    ends = np.minimum(starts + block, rows)
    thinned = {}
    for name, values in metrics.items():
        sums = np.add.reduceat(values, starts)
        thinned[name] = values[ends - 1] if name == "step" else sums if name == "seconds" else sums / (ends - starts)
    return thinned


def write_metrics(metrics: dict[str, np.ndarray], path: Path) -> None:
    """A metrics.csv of float columns (integer steps), readable by :func:`labs.gan.plots.read_metrics`."""
    names = list(metrics)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for index in range(len(metrics[names[0]])):
            writer.writerow(
                [int(metrics[name][index]) if name == "step" else f"{metrics[name][index]:.5g}" for name in names]
            )


def _scored_summary(run: TrainedRun, cache_dir: Path) -> dict[str, Any]:
    """The run's summary.json at its checkpoint's step, re-evaluating when it is missing or of another step."""
    summary_path = run.folder / SUMMARY_FILE
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary.get("step") == run.step and "fd" in summary.get("metrics", {}):
            return summary
    return evaluate_run(run, cache_dir)


def _remove_all_but(folder: Path, kept: list[str]) -> None:
    """Delete every file under ``folder`` whose relative path is not in ``kept`` (an earlier bundle's grid ...).

    The folder is updated in place rather than recreated, so a file written again with the same
    contents keeps its bytes (see :func:`sr_core.weights.save_weights`) and git sees no change.
    """
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(folder).as_posix() not in kept:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def bundle_run(folder: str | Path, bundle_root: Path, cache_dir: Path) -> dict[str, Any]:
    """Copy one run, at its last checkpoint, into ``bundle_root/<folder name>`` and return its manifest entry.

    The checkpoint is read with ``weights_only=True`` (tensors only); metrics logged after it (a
    run stopped between checkpoints) are dropped, so curves, grid, generator and scores are of one step.
    """
    folder = Path(folder)
    run = open_run(folder)
    if not run.step:
        raise GanSettingError(f"{folder} has no checkpoint yet: train it with gan-train --out {folder} first")
    summary = _scored_summary(run, cache_dir)
    target = bundle_root / folder.name
    target.mkdir(parents=True, exist_ok=True)
    grid = f"{SAMPLES_DIR}/step_{run.step:06d}.png"
    shutil.copyfile(folder / CONFIG_FILE, target / CONFIG_FILE)
    (target / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    metrics = read_metrics(folder / METRICS_FILE)
    logged = metrics["step"] <= run.step
    write_metrics(thin_metrics({name: values[logged] for name, values in metrics.items()}), target / METRICS_FILE)
    save_grid(run.gan.preview(PREVIEW_COUNT), target / grid)
    save_weights(
        run.gan.generator, target / GENERATOR_FILE, metadata={**summary["config"], "step": run.step}, half=True
    )
    files = sorted({CONFIG_FILE, SUMMARY_FILE, METRICS_FILE, grid, GENERATOR_FILE})
    _remove_all_but(target, files)
    info = read_run(target)
    config = summary["config"]
    training = {
        **config,
        "steps": run.step,
        "batch_size": run.gan.batch_size,
        "train_seconds": round(info.train_seconds),
        "command": f"python -m sr_core gan-train --model {info.model} --disc {info.discriminator} "
        f"--size {config['size']} --seed {config['seed']} --data {config['data']} "
        f"--steps {run.step}",
    }
    return {
        "folder": folder.name,
        "files": {name: sha256_file(target / name) for name in files},
        "training": training,
        "scores": summary["metrics"],
    }


def write_bundle(run_folders: Sequence[str | Path], bundle_root: str | Path, cache_dir: str | Path) -> dict[str, Any]:
    """Bundle every run in ``run_folders`` and the feature classifier into ``bundle_root``; write its manifest.

    ``cache_dir`` holds (or receives) the MNIST classifier that scores the runs. Raises
    :class:`GanSettingError` when the bundle written is over :data:`MAX_BUNDLE_BYTES`, so it is
    not committed to weigh down every clone.
    """
    bundle_root, cache_dir = Path(bundle_root), Path(cache_dir)
    bundle_root.mkdir(parents=True, exist_ok=True)
    runs = {Path(folder).name: bundle_run(folder, bundle_root, cache_dir) for folder in run_folders}
    shutil.copyfile(cache_dir / CLASSIFIER_FILE, bundle_root / CLASSIFIER_FILE)
    classifier = {
        "file": CLASSIFIER_FILE,
        "sha256": sha256_file(bundle_root / CLASSIFIER_FILE),
        **read_metadata(bundle_root / CLASSIFIER_FILE),
    }
    manifest = {"runs": runs, "classifier": classifier}
    with atomic_target(bundle_root / MANIFEST_FILE) as temporary:
        Path(temporary).write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(path.stat().st_size for path in bundle_root.rglob("*") if path.is_file())
    if size > MAX_BUNDLE_BYTES:
        raise GanSettingError(
            f"the bundle in {bundle_root} is {size / 2**20:.1f} MB, over the "
            f"{MAX_BUNDLE_BYTES / 2**20:.0f} MB budget: bundle fewer or smaller runs"
        )
    return manifest


def grids_figure(runs: Sequence[RunInfo], rows_shown: int = 5) -> Image.Image:
    """The README's figure: each model's final sample grid, classical left and capsule right, a labelled row each.

    ``runs`` in :func:`labs.gan.runs.find_runs` order (classical before capsule); only the first
    ``rows_shown`` rows of every grid are kept, enough to judge the digits at a README's width.
    """
    samples = [run.latest_sample() for run in runs]
    if None in samples:
        raise GanSettingError("every bundled run needs a sample grid: bundle image GANs only")
    crops = [Image.open(sample).convert("RGB") for sample in samples if sample is not None]
    crops = [
        grid.crop((0, 0, grid.width, GRID_PADDING + rows_shown * (grid.height - GRID_PADDING) // 10)) for grid in crops
    ]
    cell_width, cell_height = crops[0].size
    figure = Image.new("RGB", (2 * cell_width, -(-len(crops) // 2) * (cell_height + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(figure)
    for index, (run, crop) in enumerate(zip(runs, crops)):
        left, top = index % 2 * cell_width, index // 2 * (cell_height + LABEL_HEIGHT)
        draw.text((left + 4, top + 2), f"{run.label}, step {run.step}", fill="black")
        figure.paste(crop, (left, top + LABEL_HEIGHT))
    return figure


def read_bundle_manifest(bundle_root: str | Path | None = None) -> dict[str, Any]:
    """The bundle's manifest.json (default: :func:`bundled_runs_dir`'s); empty when there is none."""
    path = Path(bundle_root or bundled_runs_dir()) / MANIFEST_FILE
    return json.loads(path.read_text()) if path.exists() else {}
