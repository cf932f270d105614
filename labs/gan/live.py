"""The 1-D GAN trained live (GAN Lab): a generator of snapshots every few steps, no files written.

The same GAN, data and training step as ``gan-train --model gan1d``, small enough to run in
a browser request: the linear generator learns N(2.5, 3.25) in about 1500 steps at
learning rate 5e-3, a few seconds on one CPU core.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from labs.gan.errors import GanSettingError
from labs.gan.evaluation import generated_values, histogram_bins, one_d_summary
from labs.gan.model import GAN
from labs.gan.plots import density_figure
from labs.gan.registry import build_gan, get_gan_spec
from labs.gan.runs import format_summary
from labs.gan.sources import TargetSource, open_source

MAX_LIVE_STEPS = 20_000
SNAPSHOT_SAMPLES = 20_000
GRID_POINTS = 400


@dataclass(frozen=True)
class LiveSnapshot:
    """The state after ``step`` steps: the density figure, the moments summary and a line for people."""

    step: int
    figure: go.Figure
    summary: dict[str, float]
    text: str


def _snapshot(gan: GAN, source: TargetSource, step: int, steps: int) -> LiveSnapshot:
    target = source.target
    samples = generated_values(gan, SNAPSHOT_SAMPLES)
    edges = histogram_bins(target)
    grid = np.linspace(edges[0], edges[-1], GRID_POINTS)
    with torch.no_grad():
        scores = gan.discriminator(torch.from_numpy(grid).float().unsqueeze(1)).score
    summary = one_d_summary(samples, target)
    figure = density_figure(
        target, samples, edges, grid, torch.sigmoid(scores).numpy(), title=f"{source.description}; step {step}/{steps}"
    )
    return LiveSnapshot(step, figure, summary, f"step {step}/{steps}: {format_summary(summary)}")


def train_1d_live(
    target: str = "normal",
    generator: str = "linear",
    k: int = 1,
    lr: float = 5e-3,
    steps: int = 1500,
    update_every: int = 100,
    dropout: float = 0.0,
    seed: int = 0,
) -> Iterator[LiveSnapshot]:
    """Train the thesis's 1-D GAN and yield a snapshot every ``update_every`` steps and at the end.

    ``target``: "normal" or "mixture"; ``generator``: "linear" or "mlp" (with ``dropout``);
    ``k``: discriminator steps per generator step; ``lr``: Adam's learning rate for both networks.
    """
    if not 1 <= steps <= MAX_LIVE_STEPS:
        raise GanSettingError(f"steps must be between 1 and {MAX_LIVE_STEPS:,} for live training, not {steps}")
    if update_every < 1:
        raise GanSettingError(f"update_every must be positive, not {update_every}")
    source = open_source(get_gan_spec("gan1d"), target=target)
    assert isinstance(source, TargetSource), "the 1-D GAN trains on a target distribution"
    torch.manual_seed(seed)
    gan = build_gan("gan1d", generator=generator, k=k, lr=lr, dropout=dropout)
    for step in range(1, steps + 1):
        gan.train_step(source.sample)
        if step % update_every == 0 or step == steps:
            yield _snapshot(gan, source, step, steps)
