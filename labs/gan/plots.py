"""Plotly figures of GAN training: metric curves (one run or classical vs capsule) and 1-D densities."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs.gan.toy import GaussianMixture1D

REPORT_COLUMNS = ("g_loss", "d_loss", "d_accuracy")  # the CapsNet-GAN report's three curves
NOT_PLOTTED = ("step", "seconds")
Metrics = Mapping[str, np.ndarray]


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """A metrics.csv as float columns by name (empty when the file is missing or has no rows)."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {name: np.array([float(row[name]) for row in rows]) for name in rows[0]}


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The trailing mean over ``window`` values (shorter at the start), to read trends in noisy GAN losses."""
    if window <= 1 or len(values) == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def curves_figure(
    runs: Sequence[tuple[str, Metrics]], columns: Sequence[str] | None = None, title: str = ""
) -> go.Figure:
    """One subplot per metric column, one line per run (e.g. "dcgan/cnn" against "dcgan/capsule").

    ``columns`` defaults to the report's three curves, then any other column the runs logged.
    Lines are smoothed over 1% of the steps; the CSV keeps the raw values.
    """
    if columns is None:
        logged = [name for _, metrics in runs for name in metrics if name not in NOT_PLOTTED]
        columns = [name for name in REPORT_COLUMNS if name in logged]
        columns += sorted(set(logged) - set(columns))
    figure = make_subplots(
        rows=len(columns) or 1,
        cols=1,
        shared_xaxes=True,
        subplot_titles=list(columns),
        vertical_spacing=0.3 / max(len(columns), 1),
    )
    for index, (label, metrics) in enumerate(runs):
        window = max(len(metrics.get("step", [])) // 100, 1)
        for row, column in enumerate(columns, start=1):
            if column in metrics:
                figure.add_scatter(
                    x=metrics["step"],
                    y=moving_average(metrics[column], window),
                    name=label,
                    legendgroup=label,
                    showlegend=row == 1,
                    line={"color": _colour(index)},
                    row=row,
                    col=1,
                )
    figure.update_layout(title=title, height=220 * max(len(columns), 1) + 80, margin={"t": 60})
    figure.update_xaxes(title_text="step", row=len(columns) or 1, col=1)
    return figure


def _colour(index: int) -> str:
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
    return palette[index % len(palette)]


def write_curves_report(metrics_csv: str | Path, html_path: str | Path, title: str = "") -> None:
    """A run's curves as a standalone HTML page (plotly.js from its CDN)."""
    figure = curves_figure([(title or "run", read_metrics(metrics_csv))], title=title)
    figure.write_html(html_path, include_plotlyjs="cdn")


def density_figure(
    target: GaussianMixture1D,
    samples: np.ndarray,
    bin_edges: np.ndarray,
    grid: np.ndarray,
    d_probability: np.ndarray,
    title: str = "",
) -> go.Figure:
    """The thesis's picture of a 1-D GAN: the real density, the generator's histogram and D(x).

    ``samples``: generated values, binned here so the figure carries ``len(bin_edges) - 1`` bars
    rather than every sample; ``grid``/``d_probability``: D(x) = P(real | x) at points x, on a
    second axis in [0, 1] where 1/2 means D can no longer tell real from fake.
    """
    density, _ = np.histogram(samples, bins=bin_edges, density=False)
    widths = np.diff(bin_edges)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(
        x=(bin_edges[:-1] + bin_edges[1:]) / 2,
        y=density / max(len(samples), 1) / widths,
        width=widths,
        name="generator histogram",
        marker={"color": "rgba(44,160,44,0.55)"},
    )
    figure.add_scatter(x=grid, y=target.pdf(grid), name="real density", line={"color": "#d62728", "width": 3})
    figure.add_scatter(
        x=grid, y=d_probability, name="D(x)", line={"color": "#1f77b4", "dash": "dash"}, secondary_y=True
    )
    figure.update_yaxes(title_text="density", secondary_y=False)
    figure.update_yaxes(title_text="D(x)", range=[0, 1], secondary_y=True)
    figure.update_layout(
        title=title,
        xaxis_title="x",
        xaxis_range=[bin_edges[0], bin_edges[-1]],
        bargap=0,
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
