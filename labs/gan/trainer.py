"""The step-based GAN trainer: one plain loop that resumes from the run's last checkpoint.

A run folder holds everything about one training run:

    config.json         the configuration (a resumed run must match it)
    checkpoint.pt       networks + optimizers + step, rewritten every ``checkpoint_every`` steps
    metrics.csv         one row per step: g_loss, d_loss, d_accuracy, the family's extras, seconds
    samples/step_N.png  a grid of generated images every ``sample_every`` steps (image GANs)
    report.html         plotly curves of every metric column
    generator.safetensors, summary.json   the final generator and its evaluation

Every step starts by seeding torch from (seed, step), so a step's batches, noise and dropout
masks depend on nothing else: stopping and resuming gives the same numbers as one long run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from labs.gan.errors import GanSettingError, RunMismatchError
from labs.gan.model import GAN, decayed_lr_scale
from labs.gan.plots import write_curves_report
from labs.gan.registry import build_gan, get_gan_spec
from labs.gan.sources import DataSource, open_source
from labs.mnist import save_grid
from sr_core.train.checkpoint import load_checkpoint, save_checkpoint
from sr_core.train.run_log import RunLog
from sr_core.weights import save_weights

CONFIG_FILE, CHECKPOINT_FILE, METRICS_FILE = "config.json", "checkpoint.pt", "metrics.csv"
SUMMARY_FILE, GENERATOR_FILE, SAMPLES_DIR = "summary.json", "generator.safetensors", "samples"
PREVIEW_COUNT = 100


@dataclass(frozen=True)
class GanRunConfig:
    """What defines a run. ``options`` go to the GAN's builder (e.g. generator, dropout, k, lr)."""

    model: str
    discriminator: str | None = None
    size: str = "paper"
    data: str | None = None
    target: str = "normal"
    batch_size: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """How long to train and how often to write samples, checkpoints and progress lines."""

    steps: int
    sample_every: int = 500
    checkpoint_every: int = 500
    print_every: int = 100

    def __post_init__(self) -> None:
        if self.steps < 1 or min(self.sample_every, self.checkpoint_every, self.print_every) < 1:
            raise GanSettingError("--steps and every interval must be positive")


@dataclass
class TrainedRun:
    """A run after training: its folder, GAN, data source and the step it reached."""

    folder: Path
    gan: GAN
    source: DataSource
    step: int


def step_seed(seed: int, step: int) -> int:
    """The torch seed of one step: distinct per (seed, step), independent of what ran before."""
    return seed * 1_000_003 + step


def build_run(config: GanRunConfig) -> tuple[GAN, DataSource]:
    """The GAN and data source a configuration describes, with the seed's initial weights."""
    spec = get_gan_spec(config.model)
    source = open_source(spec, config.data, config.target)
    torch.manual_seed(config.seed)
    gan = build_gan(
        config.model,
        discriminator=config.discriminator,
        size=config.size,
        batch_size=config.batch_size,
        image_shape=source.sample_shape,
        **config.options,
    )
    return gan, source


def _config_dict(config: GanRunConfig) -> dict[str, Any]:
    """The JSON form of a configuration (the same on write and on compare)."""
    return json.loads(json.dumps(asdict(config)))


def _check_resumable(folder: Path, config: GanRunConfig) -> None:
    saved = json.loads((folder / CONFIG_FILE).read_text())
    wanted = _config_dict(config)
    differing = sorted(key for key in set(saved) | set(wanted) if saved.get(key) != wanted.get(key))
    if differing:
        details = ", ".join(f"{key}: run has {saved.get(key)!r}, asked {wanted.get(key)!r}" for key in differing)
        raise RunMismatchError(f"{folder} holds a different run ({details}); use another --out or the run's settings")


def _save_checkpoint(folder: Path, gan: GAN, step: int) -> None:
    save_checkpoint({"step": step, "gan": gan.state_dict()}, folder / CHECKPOINT_FILE)


def load_run_checkpoint(folder: Path, gan: GAN) -> int:
    """Restore ``gan`` from the run's checkpoint (tensors only, no pickled code) and return its step; 0 if none."""
    path = Path(folder) / CHECKPOINT_FILE
    if not path.exists():
        return 0
    checkpoint = load_checkpoint(path)
    gan.load_state_dict(checkpoint["gan"])
    return int(checkpoint["step"])


def train(
    config: GanRunConfig, folder: str | Path, schedule: Schedule, log: Callable[[str], None] = print
) -> TrainedRun:
    """Train (or resume) the run in ``folder`` up to ``schedule.steps`` steps."""
    folder = Path(folder)
    gan, source = build_run(config)
    if (folder / CHECKPOINT_FILE).exists():
        _check_resumable(folder, config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(_config_dict(config), indent=2) + "\n")
    start = load_run_checkpoint(folder, gan)
    metrics = RunLog(folder / METRICS_FILE, start)
    label = f"{config.model}/{config.discriminator or get_gan_spec(config.model).discriminators[0]}"
    log(
        f"{label}: {source.description}; "
        + (f"resuming at step {start}" if start else "starting")
        + f", training to step {schedule.steps}"
    )

    for step in range(start + 1, schedule.steps + 1):
        torch.manual_seed(step_seed(config.seed, step))
        began = time.perf_counter()
        gan.scale_learning_rates(decayed_lr_scale(step, schedule.steps, gan.lr_decay))
        row = gan.train_step(source.sample)
        row.update(source.monitor(gan))
        metrics.append({"step": step, **row, "seconds": time.perf_counter() - began})

        if len(source.sample_shape) == 3 and (step % schedule.sample_every == 0 or step == schedule.steps):
            save_grid(gan.preview(PREVIEW_COUNT), folder / SAMPLES_DIR / f"step_{step:06d}.png")
        if step % schedule.checkpoint_every == 0 or step == schedule.steps:
            _save_checkpoint(folder, gan, step)
        if step % schedule.print_every == 0 or step == schedule.steps:
            log(
                f"{label} step {step}/{schedule.steps}  g_loss {row['g_loss']:.4f}  d_loss {row['d_loss']:.4f}  "
                f"d_accuracy {row['d_accuracy']:.3f}"
            )

    metrics.close()
    save_weights(gan.generator, folder / GENERATOR_FILE, metadata=_config_dict(config), half=False)
    write_curves_report(folder / METRICS_FILE, folder / "report.html", title=label)
    return TrainedRun(folder, gan, source, max(start, schedule.steps))


def evaluate_run(run: TrainedRun, cache_dir: str | Path) -> dict[str, Any]:
    """Score the run's generator on its source and save ``summary.json`` (config, step, metrics)."""
    config = json.loads((run.folder / CONFIG_FILE).read_text())
    summary = {"config": config, "step": run.step, "metrics": run.source.evaluate(run.gan, Path(cache_dir))}
    (run.folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def open_run(folder: str | Path) -> TrainedRun:
    """A finished (or interrupted) run rebuilt from its folder at its last checkpoint."""
    folder = Path(folder)
    if not (folder / CONFIG_FILE).exists():
        raise GanSettingError(f"{folder} is not a GAN run (no {CONFIG_FILE}); train one with gan-train --out {folder}")
    config = GanRunConfig(**json.loads((folder / CONFIG_FILE).read_text()))
    gan, source = build_run(config)
    return TrainedRun(folder, gan, source, load_run_checkpoint(folder, gan))
