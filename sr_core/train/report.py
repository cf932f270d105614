"""A run's record: losses per step and validation scores as CSV, and an HTML report of their curves.

``metrics.csv`` has one row per training step (learning rate, step time, the weighted total
and each unweighted loss term, and for GANs the discriminator's loss, D(real) and D(fake));
``validation.csv`` one row per validation (mean PSNR/SSIM on the Y channel of the model and of
bicubic on the same images). ``report.html`` draws both with plotly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from plotly.subplots import make_subplots

METRICS_NAME = "metrics.csv"
VALIDATION_NAME = "validation.csv"
REPORT_NAME = "report.html"
VALIDATION_COLUMNS = ("step", "psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y")
DISCRIMINATOR_COLUMNS = ("d_loss", "d_real", "d_fake")


def write_report(run_dir: Path, title: str) -> Path:
    """Draw ``report.html``: generator losses, discriminator outputs, validation PSNR and SSIM against bicubic."""
    metrics = pd.read_csv(run_dir / METRICS_NAME)
    validation = pd.read_csv(run_dir / VALIDATION_NAME)
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=("generator losses", "discriminator", "validation PSNR (Y)", "validation SSIM (Y)"),
    )
    loss_columns = [c for c in metrics.columns if c not in ("step", "lr", "seconds", *DISCRIMINATOR_COLUMNS)]
    for column in loss_columns:
        figure.add_scatter(x=metrics["step"], y=metrics[column], name=column, mode="lines", row=1, col=1)
    for column in DISCRIMINATOR_COLUMNS:
        if column in metrics.columns:
            figure.add_scatter(x=metrics["step"], y=metrics[column], name=column, mode="lines", row=1, col=2)
    for metric, row, col in (("psnr_y", 2, 1), ("ssim_y", 2, 2)):
        for prefix, dash in (("", "solid"), ("bicubic_", "dash")):
            figure.add_scatter(
                x=validation["step"],
                y=validation[prefix + metric],
                name=(prefix or "model_") + metric,
                mode="lines+markers",
                line={"dash": dash},
                row=row,
                col=col,
            )
    figure.update_yaxes(type="log", row=1, col=1)
    figure.update_xaxes(title_text="step")
    figure.update_layout(title=title, height=800)
    path = run_dir / REPORT_NAME
    figure.write_html(path, include_plotlyjs="cdn")
    return path
