"""What the Compare tab does: every chosen model on one upload, scored against the HR by the protocol.

PSNR/SSIM on the Y channel, LPIPS (AlexNet, lower is better) on the whole RGB image, as
``evaluate`` scores them; results stream in as each model finishes.
"""

from __future__ import annotations

import csv
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sr_core import lpips
from sr_core.errors import SRStudioError, WeightsNotFoundError
from sr_core.imaging import (
    save_image,
    to_float,
    to_uint8,
)
from sr_core.inference import (
    LoadedModel,
    load_model,
    run_network,
    tile_for,
)
from sr_core.protocol import SCALE, score_pair
from studio.services.model_choices import NO_WEIGHTS, own_models
from studio.services.outputs import file_stem, placeholder_image, read_png
from studio.services.uploads import CompareInput, ProgressCallback, ServiceSettingsError, prepare_input

REFERENCE = "HR (ground truth)"
DONE, WAITING = "done", "waiting"
# LPIPS: AlexNet, v0.1, lower is better; empty where unavailable (package missing, image under 31 px).
METRIC_COLUMNS = ["model", "PSNR (dB)", "SSIM", "LPIPS", "seconds", "parameters", "status"]
LPIPS_PANEL = "LPIPS (lower is better)"


@dataclass(frozen=True)
class CompareOutput:
    """One tile of a comparison: a model's PNG (or the HR reference) and its figures.

    ``path`` is None only while waiting; an unavailable model gets a labelled placeholder
    image so it is seen, not silently dropped. Metrics are None without a reference.
    """

    name: str
    path: Path | None
    status: str
    seconds: float | None = None
    parameters: int | None = None
    psnr: float | None = None
    ssim: float | None = None
    lpips: float | None = None

    @property
    def has_output(self) -> bool:
        """True when ``path`` is a real image to zoom into and slide between (not a placeholder)."""
        return self.path is not None and self.status in (DONE, REFERENCE)

    @property
    def image_path(self) -> Path:
        """``path`` of a tile with a real image (:attr:`has_output`); a waiting tile has none to give."""
        if self.path is None:
            raise ServiceSettingsError(f"{self.name} has no image yet: wait for the comparison to finish")
        return self.path

    @property
    def caption(self) -> str:
        if self.status == DONE and self.psnr is not None:
            return f"{self.name}: {self.psnr:.2f} dB / {self.ssim:.4f}" + (
                "" if self.lpips is None else f" / LPIPS {self.lpips:.3f}"
            )
        return self.name if self.status in (DONE, REFERENCE) else f"{self.name}: {self.status}"


def run_compare_model(
    name: str, source: CompareInput, out_dir: Path, tile: int | None = 0, model: LoadedModel | None = None
) -> CompareOutput:
    """Run one model on the comparison's LR, save its PNG and score it against the reference.

    ``model`` is one already loaded (a user's file, :func:`own_models`), shown as ``name``; else ``name`` is loaded.
    A model without weights becomes an "unavailable" tile; any other :class:`SRStudioError`
    (a corrupt weights file ...) becomes a "failed" tile with its message, so one broken model
    does not cost the user the whole comparison.
    """
    path = out_dir / f"{file_stem(name)}.png"
    height, width = source.lr_rgb.shape[0] * SCALE, source.lr_rgb.shape[1] * SCALE
    try:
        model = model or load_model(name)
        started = time.perf_counter()
        sr = run_network(model.network, source.lr_rgb, tile=tile_for(model, tile))
        seconds = time.perf_counter() - started
    except WeightsNotFoundError:
        save_image(placeholder_image(width, height, f"{name}\n{NO_WEIGHTS}"), path)
        return CompareOutput(name, path, NO_WEIGHTS)
    except SRStudioError as error:
        save_image(placeholder_image(width, height, f"{name}\nfailed"), path)
        return CompareOutput(name, path, f"failed: {error}")
    sr_uint8 = to_uint8(sr)
    save_image(to_float(sr_uint8), path)
    if source.hr_uint8 is None:
        return CompareOutput(name, path, DONE, seconds, model.parameters)
    pair = score_pair(sr_uint8, source.hr_uint8, source.reference_lpips)
    return CompareOutput(name, path, DONE, seconds, model.parameters, pair.psnr, pair.ssim, pair.lpips)


def lpips_notice(source: CompareInput) -> str | None:
    """Why a comparison with a reference has no LPIPS (package missing, image too small), or None when it has."""
    if source.hr_uint8 is None:
        return None
    reason = lpips.lpips_unavailable_reason()
    if reason:
        return f"LPIPS is unavailable ({reason}); it is shown as empty"
    height, width = source.hr_uint8.shape[:2]
    smallest = lpips.MIN_SIDE[lpips.DEFAULT_NETWORK]
    if min(height, width) < smallest:
        return (
            f"LPIPS needs an image of at least {smallest}x{smallest} px (this one is {width}x{height}); "
            "it is shown as empty"
        )
    return None


def reference_output(source: CompareInput, out_dir: Path) -> CompareOutput | None:
    """The HR image as a tile of its own (None without a reference)."""
    if source.hr_uint8 is None:
        return None
    path = out_dir / "hr.png"
    save_image(to_float(source.hr_uint8), path)
    return CompareOutput(REFERENCE, path, REFERENCE)


def metrics_table(outputs: Sequence[CompareOutput], digits: bool = True) -> pd.DataFrame:
    """One row per model: PSNR (dB), SSIM, LPIPS, seconds, parameters and status (the HR tile is left out).

    ``digits`` rounds for display (2 decimals for dB, 4 for SSIM and LPIPS, 3 for seconds); the
    CSV download keeps full precision.
    """
    rows = [
        [output.name, output.psnr, output.ssim, output.lpips, output.seconds, output.parameters, output.status]
        for output in outputs
        if output.status != REFERENCE
    ]
    table = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    for column in ("PSNR (dB)", "SSIM", "LPIPS", "seconds"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["parameters"] = pd.array(table["parameters"], dtype="Int64")
    return table.round({"PSNR (dB)": 2, "SSIM": 4, "LPIPS": 4, "seconds": 3}) if digits else table


def metrics_chart(outputs: Sequence[CompareOutput]) -> go.Figure:
    """Bar charts of PSNR, SSIM, LPIPS (with a reference) and seconds per model; what was not measured shows no bar."""
    scored = [output for output in outputs if output.status != REFERENCE]
    names = [output.name for output in scored]
    panels = [("seconds", [output.seconds for output in scored])]
    if any(output.psnr is not None for output in scored):
        panels = [
            ("PSNR (dB)", [o.psnr for o in scored]),
            ("SSIM", [o.ssim for o in scored]),
            (LPIPS_PANEL, [o.lpips for o in scored]),
            *panels,
        ]
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _ in panels])
    for column, (title, values) in enumerate(panels, start=1):
        labels = [f"{value:.4g}" if value is not None else "n/a" for value in values]
        figure.add_trace(go.Bar(x=names, y=values, text=labels, name=title, showlegend=False), row=1, col=column)
    figure.update_layout(height=360, margin={"l": 40, "r": 20, "t": 40, "b": 40})
    return figure


@dataclass(frozen=True)
class CompareView:
    """Everything the Compare tab shows at one moment of a streamed comparison."""

    outputs: tuple[CompareOutput, ...]
    notices: tuple[str, ...]
    downloads: tuple[Path, ...] = ()

    @property
    def gallery(self) -> list[tuple[str, str]]:
        """(PNG path, caption) pairs, the HR first, waiting models left out."""
        return [(str(output.path), output.caption) for output in self.outputs if output.path is not None]

    @property
    def table(self) -> pd.DataFrame:
        return metrics_table(self.outputs)

    @property
    def chart(self) -> go.Figure:
        return metrics_chart(self.outputs)

    @property
    def finished(self) -> bool:
        return all(output.status != WAITING for output in self.outputs)

    @property
    def viewable(self) -> list[str]:
        """Names of the tiles with a real image, for the zoom and the before/after slider."""
        return [output.name for output in self.outputs if output.has_output]

    @property
    def slider_defaults(self) -> tuple[str | None, str | None]:
        """(before, after) for the slider: the first result (HR or bicubic) against the last one."""
        names = self.viewable
        return (names[0], names[-1]) if names else (None, None)


def compare_stream(
    path: str | Path,
    mode: str,
    model_names: Sequence[str],
    out_dir: Path,
    pixel_cap: int | None = None,
    progress: ProgressCallback | None = None,
    model_files: Sequence[str | Path] = (),
) -> Iterator[CompareView]:
    """Run every model on one upload, yielding the view after each model so results appear as they finish.

    ``model_files`` are users' own x4 models (:func:`own_models`), each one more column after the named ones;
    a bad file or another scale is refused before anything runs. The first view lists every model as waiting;
    the last one carries the downloads (a zip of all PNGs with the metrics CSV, and the CSV alone).
    ``progress(fraction, text)`` is told which model runs next.
    """
    own = own_models(model_files)
    model_names = [*model_names, *own]
    if not model_names:
        raise ServiceSettingsError("choose at least one model to compare")
    source = prepare_input(path, mode, pixel_cap)
    missing_lpips = lpips_notice(source)
    if missing_lpips:
        source = replace(source, notices=(*source.notices, missing_lpips))
    reference = reference_output(source, out_dir)
    outputs = ([reference] if reference else []) + [CompareOutput(name, None, WAITING) for name in model_names]
    first_model = len(outputs) - len(model_names)
    yield CompareView(tuple(outputs), source.notices)
    for index, name in enumerate(model_names):
        if progress is not None:
            progress(index / len(model_names), f"running {name} ({index + 1}/{len(model_names)})")
        outputs[first_model + index] = run_compare_model(name, source, out_dir, model=own.get(name))
        if index + 1 < len(model_names):
            yield CompareView(tuple(outputs), source.notices)
    downloads = export_results(outputs, out_dir)
    yield CompareView(tuple(outputs), source.notices, downloads)


def export_results(outputs: Sequence[CompareOutput], out_dir: Path) -> tuple[Path, Path]:
    """(zip of every real output PNG plus ``metrics.csv``, the CSV alone), written into ``out_dir``.

    The CSV keeps full precision; placeholders of models that did not run are left out of the zip.
    """
    csv_path = out_dir / "metrics.csv"
    metrics_table(outputs, digits=False).to_csv(csv_path, index=False, quoting=csv.QUOTE_MINIMAL)
    zip_path = out_dir / "sr_studio_comparison.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for output in outputs:
            if output.has_output:
                archive.write(output.image_path, f"{file_stem(output.name)}.png")
        archive.write(csv_path, csv_path.name)
    return zip_path, csv_path


def _output_named(outputs: Sequence[CompareOutput], name: str) -> CompareOutput:
    for output in outputs:
        if output.name == name and output.has_output:
            return output
    shown = ", ".join(output.name for output in outputs if output.has_output) or "none yet: run a comparison"
    raise ServiceSettingsError(f"no image named {name!r} among the results; choose one of: {shown}")


def slider_pair(outputs: Sequence[CompareOutput], before: str, after: str) -> tuple[str, str]:
    """The PNG paths of two results by name, for the before/after slider."""
    paths = _output_named(outputs, before).image_path, _output_named(outputs, after).image_path
    if not all(path.is_file() for path in paths):
        raise ServiceSettingsError("these results have been cleaned up since; run the comparison again")
    return str(paths[0]), str(paths[1])


def crop_box(width: int, height: int, center_x: float, center_y: float, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a ``size``-pixel square centred at fractions of the image, kept inside it.

    ``center_x``/``center_y`` in [0, 1] (0.5 is the middle): one choice fits every output,
    whatever its size; the square shrinks to the image when the image is smaller.
    """
    side_x, side_y = min(size, width), min(size, height)
    left = int(round(center_x * width - side_x / 2))
    top = int(round(center_y * height - side_y / 2))
    left, top = min(max(left, 0), width - side_x), min(max(top, 0), height - side_y)
    return left, top, left + side_x, top + side_y


def zoom_crop(rgb_uint8: np.ndarray, box: tuple[int, int, int, int], factor: int) -> np.ndarray:
    """The ``box`` of an HxWx3 image enlarged ``factor`` times by pixel repetition (nearest neighbour).

    Nearest neighbour adds no smoothing of its own, so the texture each model made stays visible.
    """
    left, top, right, bottom = box
    crop = rgb_uint8[top:bottom, left:right]
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


def zoom_outputs(
    outputs: Sequence[CompareOutput], center_x: float, center_y: float, size: int, factor: int, out_dir: Path
) -> list[tuple[str, str]]:
    """The same crop of every result, enlarged, as (PNG path, caption) pairs in the order of ``outputs``."""
    zoomed = []
    for output in outputs:
        if not output.has_output:
            continue
        rgb = read_png(output.image_path)
        box = crop_box(rgb.shape[1], rgb.shape[0], center_x, center_y, size)
        path = out_dir / f"zoom_{file_stem(output.name)}.png"
        save_image(to_float(zoom_crop(rgb, box, factor)), path)
        zoomed.append((str(path), f"{output.name} [{box[0]}:{box[2]}, {box[1]}:{box[3]}] x{factor}"))
    return zoomed
