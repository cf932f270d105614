"""Reading finished runs back: summaries, the classical-vs-capsule table, sample grids and curves.

Used by ``gan-eval`` and by the app's GAN Lab gallery, which shows the bundled runs
(:mod:`labs.gan.bundle`) and the user's own under ``SR_STUDIO_GAN_RUNS`` (default ``runs/gan``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from labs.gan.metrics import FD_LABEL, KID_LABEL
from labs.gan.plots import curves_figure, read_metrics
from labs.gan.registry import get_gan_spec
from labs.gan.trainer import CONFIG_FILE, METRICS_FILE, SAMPLES_DIR, SUMMARY_FILE
from sr_core import settings

NO_RUNS_MESSAGE = (
    "No runs yet: train with `python -m sr_core gan-train --model dcgan --disc capsule "
    "--data ../shared/data/mnist --out {root}/dcgan-capsule`, then refresh."
)


@dataclass(frozen=True)
class RunInfo:
    """One run folder: its label ("dcgan / capsule"), config, last logged step, summary (if evaluated),
    ``train_seconds``, the wall time its logged steps took (what a capsule discriminator costs), and
    ``source``, where it was found ("bundled", or the user's runs folder)."""

    folder: Path
    model: str
    discriminator: str
    config: dict[str, Any]
    step: int
    summary: dict[str, Any] | None
    train_seconds: float = 0.0
    source: str = ""

    @property
    def label(self) -> str:
        """The run's name in captions and legends: "dcgan / capsule", then its source if any: "... (bundled)"."""
        return f"{self.model} / {self.discriminator}" + (f" ({self.source})" if self.source else "")

    def latest_sample(self) -> Path | None:
        """The newest sample grid, or None for runs without images (1-D)."""
        grids = sorted((self.folder / SAMPLES_DIR).glob("step_*.png"))
        return grids[-1] if grids else None


def runs_root() -> Path:
    """The folder of runs the app shows: ``SR_STUDIO_GAN_RUNS``, else ``runs/gan``."""
    return settings.gan_runs_dir()


def read_run(folder: str | Path, source: str = "") -> RunInfo:
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    summary_path = folder / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    metrics = read_metrics(folder / METRICS_FILE)
    step = int(metrics["step"][-1]) if "step" in metrics else 0
    seconds = float(metrics["seconds"].sum()) if "seconds" in metrics else 0.0
    discriminator = config.get("discriminator") or get_gan_spec(config["model"]).discriminators[0]
    return RunInfo(folder, config["model"], discriminator, config, step, summary, seconds, source)


def _table_order(run: RunInfo) -> tuple[str, int, str]:
    """Model, then its discriminators in the registry's order (classical before capsule), then the folder."""
    return run.model, get_gan_spec(run.model).discriminators.index(run.discriminator), run.folder.name


def find_runs(root: str | Path, source: str = "") -> list[RunInfo]:
    """Every run directly under ``root`` (folders with a config.json), by model, classical before capsule."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [read_run(folder, source) for folder in sorted(root.iterdir()) if (folder / CONFIG_FILE).is_file()]
    return sorted(runs, key=_table_order)


def format_summary(metrics: dict[str, Any]) -> str:
    """One line a person reads at the end of gan-train (1-D moments, or MNIST sample quality)."""
    if "target_mean" in metrics:
        return (
            f"learned mean {metrics['mean']:.3f} vs true {metrics['target_mean']:.3f} "
            f"({metrics['mean_error']:.1%} off), std {metrics['std']:.3f} vs true {metrics['target_std']:.3f} "
            f"({metrics['std_error']:.1%} off); "
            f"histogram total-variation distance {metrics['histogram_distance']:.3f}"
        )
    if "curve_iou" in metrics:
        return (
            f"sine fit: IoU with the best-matching wave {metrics['curve_iou']:.3f} (the data: 0.97), phase "
            f"histogram's distance from uniform {metrics['phase_distance']:.3f} ({metrics['samples']} samples)"
        )
    if "fd" in metrics:
        line = (
            f"{FD_LABEL} {metrics['fd']:.2f}, {KID_LABEL} {metrics['kid']:.4f} +- {metrics['kid_std']:.4f} "
            f"({metrics['samples']} samples; "
            f"feature classifier's test accuracy {metrics['classifier_accuracy']:.3f})"
        )
        if "class_accuracy" in metrics:
            line += f"; classifier accuracy on samples of the requested class/code {metrics['class_accuracy']:.3f}"
        if "class_accuracy_per_class" in metrics:
            line += (
                " (per class/code: "
                + " ".join(f"{index}:{value:.2f}" for index, value in enumerate(metrics["class_accuracy_per_class"]))
                + ")"
            )
        if "code_to_class" in metrics:
            line += "; codes drew the digits " + " ".join(map(str, metrics["code_to_class"]))
        return line
    return "no sample-quality metric for this data (it has no held-out reference)"


def _cell(metrics: dict[str, float], key: str, digits: int) -> str:
    return f"{metrics[key]:.{digits}f}" if key in metrics else "-"


def _three_figures(value: float) -> str:
    """``value`` to three significant figures, never in exponent form: KID's spread over its subsets is about half
    of it, so further digits are noise that only widens the table."""
    digits = 2 - math.floor(math.log10(abs(value))) if value else 0
    return f"{value:.{max(digits, 0)}f}"


def comparison_table(runs: Sequence[RunInfo]) -> str:
    """A markdown table like the report's comparison, one row per evaluated run (classical next to capsule)."""
    header = (
        f"| model | discriminator | steps | train time (s) | {FD_LABEL} | {KID_LABEL} "
        "| accuracy on requested class/code | source |\n|---|---|---:|---:|---:|---:|---:|---|"
    )
    rows = []
    for run in runs:
        if run.summary is None or "fd" not in run.summary.get("metrics", {}):
            continue
        metrics = run.summary["metrics"]
        kid = f"{_three_figures(metrics['kid'])} ± {_three_figures(metrics['kid_std'])}"
        rows.append(
            f"| {run.model} | {run.discriminator} | {run.summary['step']} | {run.train_seconds:.0f} "
            f"| {_cell(metrics, 'fd', 2)} "
            f"| {kid} | {_cell(metrics, 'class_accuracy', 3)} | {run.source} |"
        )
    return "\n".join([header, *rows]) if rows else ""


def gallery_items(runs: Sequence[RunInfo]) -> list[tuple[str, str]]:
    """(latest sample grid, caption) per image run, for a gallery."""
    return [(str(grid), f"{run.label}, step {run.step}") for run in runs if (grid := run.latest_sample())]


def runs_curves_figure(runs: Sequence[RunInfo]) -> go.Figure:
    """G loss, D loss and D accuracy of every run on shared axes (the report's figures 8.1-8.5)."""
    return curves_figure(
        [(run.label, read_metrics(run.folder / METRICS_FILE)) for run in runs],
        columns=("g_loss", "d_loss", "d_accuracy"),
    )


@dataclass(frozen=True)
class RunsOverview:
    """What the GAN Lab gallery shows for a runs folder: a message or table, sample grids, one model's curves."""

    markdown: str
    gallery: list[tuple[str, str]]
    curves: go.Figure | None
    models: list[str]
    model: str | None


def runs_overview(roots: Mapping[str, Path], model: str | None = None) -> RunsOverview:
    """The gallery content for the runs under each of ``roots`` (source name -> folder, e.g. the bundled
    runs and the user's), source by source, each by model with classical before capsule (so a
    two-column gallery pairs them); ``model`` picks whose curves to draw (default: the first)."""
    runs = [run for source, root in roots.items() for run in find_runs(root, source)]
    if not runs:
        return RunsOverview(NO_RUNS_MESSAGE.format(root=runs_root()), [], None, [], None)
    models = sorted({run.model for run in runs})
    model = model if model in models else models[0]
    table = comparison_table(runs) or "No run is evaluated yet: `python -m sr_core gan-eval RUN ...` adds FD/KID."
    return RunsOverview(
        table, gallery_items(runs), runs_curves_figure([run for run in runs if run.model == model]), models, model
    )
