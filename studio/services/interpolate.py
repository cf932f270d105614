"""What the Interpolate tab does: ESRGAN's network interpolation beside pixel blending, and the
perception-distortion plane of both, for one upload and a bundled pair or two users' files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sr_core import lpips, user_models
from sr_core.imaging import (
    save_image,
    to_float,
    to_uint8,
)
from sr_core.inference import (
    model_has_weights,
)
from sr_core.interpolation import (
    IMAGE,
    NETWORK,
    interpolate_outputs,
    interpolation_pairs,
    perception_distortion_curve,
)
from sr_core.metrics import psnr_y, rmse_from_psnr
from studio.services.model_choices import NO_WEIGHTS
from studio.services.outputs import file_stem
from studio.services.uploads import GROUND_TRUTH, ProgressCallback, ServiceSettingsError, prepare_input

CURVE_COLOURS = ("#1f77b4", "#ff7f0e")


def pair_choices() -> list[tuple[str, str]]:
    """(label, GAN name) for each interpolation pair, unavailable ones labelled: ``esrgan_psnr -> esrgan``."""
    choices = []
    for psnr_name, gan_name in interpolation_pairs():
        missing = [name for name in (psnr_name, gan_name) if not model_has_weights(name)]
        suffix = f" ({NO_WEIGHTS}: {', '.join(missing)})" if missing else ""
        choices.append((f"{psnr_name} -> {gan_name}{suffix}", gan_name))
    return choices


def pair_of(gan_name: str) -> tuple[str, str]:
    """The (PSNR model, GAN model) pair a GAN model is interpolated in."""
    for pair in interpolation_pairs():
        if pair[1] == gan_name:
            return pair
    known = ", ".join(gan for _, gan in interpolation_pairs())
    raise ServiceSettingsError(f"{gan_name!r} has no PSNR twin to interpolate with; choose one of: {known}")


@dataclass(frozen=True)
class InterpolationEnds:
    """What the Interpolate tab blends: a bundled pair by name, or (``user_files``) two users' x4 model files."""

    first: str
    second: str
    user_files: bool
    label: str


def interpolation_ends(gan_name: str, model_files: Sequence[str | Path] = ()) -> InterpolationEnds:
    """The bundled pair of ``gan_name``, or the two users' files of ``model_files`` when given (first: alpha = 0).

    The files are read and checked to be x4 (the protocol's scale) before anything runs; one file alone is
    refused, since a blend needs two.
    """
    if not model_files:
        first, second = pair_of(gan_name)
        return InterpolationEnds(first, second, False, f"{first} -> {second}")
    if len(model_files) != 2:
        raise ServiceSettingsError(
            f"network interpolation blends two model files, got {len(model_files)}: "
            "give a first (alpha = 0) and a second (alpha = 1)"
        )
    first_model, second_model = (user_models.load_user_model(file) for file in model_files)
    for model in (first_model, second_model):
        user_models.require_scale(model, "Interpolate")
    label = f"{first_model.name} -> {second_model.name}"
    return InterpolationEnds(str(model_files[0]), str(model_files[1]), True, label)


@dataclass(frozen=True)
class InterpolationView:
    """The Interpolate tab at one alpha: PNGs of the network and the pixel blend, and a caption."""

    network_path: Path
    image_path: Path
    caption: str


def interpolation_view(
    path: str | Path,
    mode: str,
    gan_name: str,
    alpha: float,
    out_dir: Path,
    pixel_cap: int | None = None,
    model_files: Sequence[str | Path] = (),
) -> InterpolationView:
    """Network interpolation beside pixel interpolation at ``alpha`` for one upload, saved as PNGs.

    ``model_files``: two users' files blended instead of the bundled pair (:func:`interpolation_ends`).
    With a reference (ground-truth mode) the caption gives both PSNRs, the paper's point:
    at equal alpha, blending parameters keeps more detail with fewer artefacts.
    """
    ends = interpolation_ends(gan_name, model_files)
    source = prepare_input(path, mode, pixel_cap)
    outputs = interpolate_outputs(source.lr_rgb, ends.first, ends.second, alpha, user_files=ends.user_files)
    stem = f"{file_stem(Path(ends.second).stem)}_alpha{outputs.alpha:.2f}"
    network_path, image_path = out_dir / f"{stem}_{NETWORK}.png", out_dir / f"{stem}_{IMAGE}.png"
    network_uint8, image_uint8 = to_uint8(outputs.network), to_uint8(outputs.image)
    save_image(to_float(network_uint8), network_path)
    save_image(to_float(image_uint8), image_path)
    caption = f"alpha = {outputs.alpha:.2f} ({ends.label})"
    if source.hr_uint8 is not None:
        caption += (
            f"; PSNR network {psnr_y(network_uint8, source.hr_uint8):.2f} dB,"
            f" image {psnr_y(image_uint8, source.hr_uint8):.2f} dB"
        )
    return InterpolationView(network_path, image_path, caption)


def curve_for_upload(
    path: str | Path,
    mode: str,
    gan_name: str,
    pixel_cap: int | None = None,
    progress: ProgressCallback | None = None,
    model_files: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """The perception-distortion data of :func:`perception_distortion_curve` for an upload, of the bundled pair
    or of two users' ``model_files`` (:func:`interpolation_ends`).

    Needs a reference: in low-resolution mode there is nothing to measure PSNR against.
    """
    if mode != GROUND_TRUTH:
        raise ServiceSettingsError("the curve needs a reference: treat the upload as ground truth")
    ends = interpolation_ends(gan_name, model_files)
    source = prepare_input(path, mode, pixel_cap)
    if source.hr_uint8 is None:
        raise ServiceSettingsError("the curve needs a reference: treat the upload as ground truth")
    return perception_distortion_curve(
        source.lr_rgb, source.hr_uint8, ends.first, ends.second, progress=progress, user_files=ends.user_files
    )


def curve_chart(curve: pd.DataFrame) -> go.Figure:
    """The perception-distortion plane (Blau & Michaeli 2018) of network and image interpolation, as ESRGAN plots it.

    One point per alpha, labelled with it: distortion as RMSE (Y channel, 8-bit levels, the
    PSNR's own error) across, perception as LPIPS up; both lower is better, so the better
    trade-offs lie towards the origin. Without LPIPS (its package missing, an image under
    31 px) the chart falls back to PSNR and SSIM against alpha and its title says so.
    """
    if curve["lpips"].isna().all():
        return _distortion_against_alpha(curve)
    figure = go.Figure()
    for (method, points), colour in zip(curve.groupby("interpolation", sort=False), CURVE_COLOURS):
        figure.add_trace(
            go.Scatter(
                x=[rmse_from_psnr(psnr) for psnr in points["psnr"]],
                y=points["lpips"],
                mode="lines+markers+text",
                text=[f"{alpha:.1f}" for alpha in points["alpha"]],
                textposition="top right",
                name=f"{method} interpolation",
                line={"color": colour},
                customdata=points[["alpha", "psnr"]],
                hovertemplate="alpha %{customdata[0]:.2f}: RMSE %{x:.2f} (PSNR %{customdata[1]:.2f} dB), LPIPS %{y:.4f}",
            )
        )
    figure.update_xaxes(title_text="distortion: RMSE of Y in 8-bit levels (lower is better)")
    figure.update_yaxes(title_text="perception: LPIPS, AlexNet (lower is better)")
    figure.update_layout(
        title="Perception-distortion plane; points labelled with alpha (0: PSNR model, 1: GAN)",
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return figure


def _distortion_against_alpha(curve: pd.DataFrame) -> go.Figure:
    """PSNR and SSIM against alpha for network and image interpolation, side by side: the plane without LPIPS."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=["PSNR (dB)", "SSIM"])
    for (method, points), colour in zip(curve.groupby("interpolation", sort=False), CURVE_COLOURS):
        for column, metric in enumerate(("psnr", "ssim"), start=1):
            figure.add_trace(
                go.Scatter(
                    x=points["alpha"],
                    y=points[metric],
                    mode="lines+markers",
                    name=f"{method} interpolation",
                    legendgroup=method,
                    showlegend=column == 1,
                    line={"color": colour},
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="alpha (0: PSNR model, 1: GAN)")
    smallest = lpips.MIN_SIDE[lpips.DEFAULT_NETWORK]
    figure.update_layout(
        title=f"No LPIPS (its package is missing, or the image is under {smallest} px): distortion against alpha only",
        height=360,
        margin={"l": 40, "r": 20, "t": 60, "b": 40},
    )
    return figure
