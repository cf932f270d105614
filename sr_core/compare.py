"""What the app's Upscale, Compare and Interpolate tabs do, as plain functions the UI wires up.

Every image leaves this module as a lossless PNG written by :func:`sr_core.imaging.save_image`
(the app only shows files), so what users compare is the models' output, never a lossy
re-encoding. Comparisons follow the evaluation protocol: in "ground truth" mode the upload is
the HR image, the LR is made with the protocol's PIL bicubic and PSNR/SSIM are measured on
the Y channel against it, LPIPS (AlexNet, lower is better) on the whole RGB image, as
``evaluate`` scores them; in "low resolution" mode the upload is upscaled as it is and there
is nothing to measure against.
"""

from __future__ import annotations

import csv
import functools
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from sr_core import lpips, settings, user_models
from sr_core.errors import ImageTooLargeError, InvalidImageError, SRStudioError, WeightsNotFoundError
from sr_core.imaging import (
    LoadedImage,
    bicubic_resize,
    make_lr,
    open_image,
    pixel_cap_from_env,
    save_image,
    to_float,
    to_uint8,
)
from sr_core.inference import (
    LoadedModel,
    load_model,
    model_has_weights,
    refusal_on_this_cpu,
    tile_for,
    upscale_with,
)
from sr_core.interpolation import (
    IMAGE,
    NETWORK,
    interpolate_outputs,
    interpolation_pairs,
    perception_distortion_curve,
    run_network,
)
from sr_core.metrics import psnr_y, rmse_from_psnr, ssim_y
from sr_core.registry import SCALE, sr_model_names

GROUND_TRUTH, LOW_RESOLUTION = "ground truth", "low resolution"
COMPARE_MODELS: tuple[str, ...] = ("bicubic", "srcnn", "srgan", "esrgan", "swiftsrgan")
REFERENCE = "HR (ground truth)"
NO_WEIGHTS = "unavailable (no weights)"
DONE, WAITING = "done", "waiting"
NO_REFERENCE = "no reference: the upload was treated as low resolution, so PSNR/SSIM cannot be measured"
# The protocol removes a 4-pixel border before PSNR/SSIM, so an SR image must be well above 8 px.
MIN_GROUND_TRUTH_SIDE = 16
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "sr_studio"
OUTPUT_MAX_AGE_S = 6 * 3600
# LPIPS: AlexNet, v0.1, lower is better; empty where unavailable (package missing, image under 31 px).
METRIC_COLUMNS = ["model", "PSNR (dB)", "SSIM", "LPIPS", "seconds", "parameters", "status"]
LPIPS_PANEL = "LPIPS (lower is better)"
PLACEHOLDER_GREY = 0.85
# With "shrink", uploads up to this many times the pixel cap are decoded and shrunk to fit it.
SHRINK_HEADROOM = 4
SHRINK_LABEL = "Shrink images over the pixel cap to fit it"
CURVE_COLOURS = ("#1f77b4", "#ff7f0e")
# The Upscale tab's default: the first of these that can run now.
UPSCALE_PREFERENCE: tuple[str, ...] = ("esrgan", "swiftsrgan", "srgan", "srresnet", "esrgan_psnr", "srcnn", "bicubic")

ProgressCallback = Callable[[float, str], None]


class CompareSettingsError(SRStudioError):
    """A choice in the app that cannot work (no model picked, an image that is not among the results)."""


# --- files ---------------------------------------------------------------------------------


def new_output_dir(root: Path = OUTPUT_ROOT, max_age_s: float = OUTPUT_MAX_AGE_S) -> Path:
    """A fresh folder for one request's PNGs, after removing request folders older than ``max_age_s``.

    Results must outlive the request (zoom, slider and downloads read them later) but not the
    day: without pruning a public app would fill its disk.
    """
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age_s
    for old in root.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="run_", dir=root))


def _file_stem(text: str) -> str:
    """A safe file-name stem: letters, digits, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "image"


def _read_png(path: str | Path) -> np.ndarray:
    """An 8-bit RGB array of one of the PNGs this module wrote (trusted, already validated).

    Old results are pruned by :func:`new_output_dir`; a page left open for hours is told to
    run again rather than shown a traceback.
    """
    if not Path(path).is_file():
        raise CompareSettingsError("these results have been cleaned up since; run the comparison again")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# --- Upscale tab ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UpscaleOutcome:
    """The x4 PNG of one upload and a one-line summary (model, sizes, seconds) for the user."""

    path: Path
    summary: str
    notices: tuple[str, ...]


def open_upload(path: str | Path, pixel_cap: int | None = None, shrink: bool = False) -> LoadedImage:
    """Open an upload within the pixel cap (``None``: ``SR_STUDIO_PIXEL_CAP`` or the library's default).

    Over the cap, :class:`ImageTooLargeError` says so, unless ``shrink``: then an image up to
    :data:`SHRINK_HEADROOM` times the cap is decoded and shrunk to fit it (with a notice), so a
    phone photo can still be tried; anything larger is refused all the same.
    """
    cap = pixel_cap_from_env() if pixel_cap is None else pixel_cap
    try:
        return open_image(path, pixel_cap=cap)
    except ImageTooLargeError as error:
        if not shrink:
            raise ImageTooLargeError(f"{error} Or tick '{SHRINK_LABEL}' in the Upscale tab.") from None
    return shrink_to_pixel_cap(open_image(path, pixel_cap=cap * SHRINK_HEADROOM), cap)


def shrink_to_pixel_cap(image: LoadedImage, pixel_cap: int) -> LoadedImage:
    """``image`` downscaled with the protocol's bicubic to at most ``pixel_cap`` pixels, aspect kept."""
    if image.width * image.height <= pixel_cap:
        return image
    factor = (pixel_cap / (image.width * image.height)) ** 0.5
    size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
    rgb = np.clip(bicubic_resize(image.rgb, size), 0.0, 1.0)
    alpha = None if image.alpha is None else np.clip(bicubic_resize(image.alpha, size), 0.0, 1.0)
    notice = f"shrunk from {image.width}x{image.height} to {size[0]}x{size[1]} px to fit the pixel cap"
    return replace(image, rgb=rgb, alpha=alpha, notices=(*image.notices, notice))


def upscale_file(
    path: str | Path,
    model_name: str,
    out_dir: Path,
    pixel_cap: int | None = None,
    shrink: bool = False,
    tile: int | None = 0,
    model_file: str | Path | None = None,
) -> UpscaleOutcome:
    """Upscale an image file with ``model_name`` (x4), or with the model ``model_file`` holds (at its own scale,
    which the summary's sizes state), and save it as PNG in ``out_dir``.

    The original file is read (alpha, grey and 16-bit survive, see :func:`upscale_with`);
    large inputs are tiled (``tile=0`` picks the tile from free memory). Over the pixel cap see
    :func:`open_upload`; a model without weights raises :class:`WeightsNotFoundError`.
    """
    model = load_model(model_name) if model_file is None else user_models.load_weights_file(model_file)
    image = open_upload(path, pixel_cap, shrink)
    result = upscale_with(image, model, tile=tile)
    output = out_dir / f"{_file_stem(Path(path).stem)}_{_file_stem(model.name)}_x{model.scale}.png"
    save_image(result.rgb, output, alpha=result.alpha, grayscale=result.grayscale, bit_depth=result.bit_depth)
    width, height = result.size
    summary = f"{model.name}: {image.width}x{image.height} -> {width}x{height} px in {result.seconds:.2f} s"
    return UpscaleOutcome(output, summary, tuple(result.notices))


def upscale_label(model_file: str | Path | None = None) -> str:
    """The Upscale button's text, stating the scale a run will have: x4 for the bundled models, a user's file its
    own (read as :func:`upscale_file` reads it, so a bad file is refused here already)."""
    scale = SCALE if model_file is None else user_models.load_weights_file(model_file).scale
    return f"Upscale x{scale}"


def model_label(name: str) -> str:
    """The name with its availability, as the model pickers show it: ``esrgan (unavailable (no weights))``."""
    return name if model_has_weights(name) else f"{name} ({NO_WEIGHTS})"


def model_choices(names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown of SR models, unavailable ones labelled but listed; a model this CPU
    cannot run at its quality (an int8 variant without VNNI kernels) is left out."""
    return [(model_label(name), name) for name in (names if names is not None else sr_model_names())
            if refusal_on_this_cpu(name) is None]


def default_upscale_model() -> str:
    """The first model of :data:`UPSCALE_PREFERENCE` that has weights (bicubic always has)."""
    return next(name for name in UPSCALE_PREFERENCE if model_has_weights(name))


# --- Compare tab ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareInput:
    """What the models see and what they are measured against.

    ``lr_rgb`` is the network input, float HxWx3 in [0, 1]; ``hr_uint8`` the reference
    (cropped to a multiple of 4), or None when the upload was treated as low resolution.
    """

    lr_rgb: np.ndarray
    hr_uint8: np.ndarray | None
    mode: str
    notices: tuple[str, ...]

    @functools.cached_property
    def reference_lpips(self) -> Callable[[np.ndarray], float | None] | None:
        """AlexNet LPIPS of a float HxWx3 output against the reference (whole image, as ``evaluate`` scores it).

        The reference's features are computed once for all the models. None without a reference
        or where LPIPS is unavailable (its package is missing: logged once); the function gives
        None for an image under the network's smallest side. Either way the tab shows it as empty.
        """
        return None if self.hr_uint8 is None else lpips.lpips_against_or_none(to_float(self.hr_uint8))


def prepare_input(path: str | Path, mode: str, pixel_cap: int | None = None) -> CompareInput:
    """Read an upload for comparison in ``mode`` (:data:`GROUND_TRUTH` or :data:`LOW_RESOLUTION`).

    Ground truth: the HR is cropped to a multiple of 4 and the LR made by the protocol's PIL
    bicubic in 8 bits, exactly as the papers' tables are computed. Comparisons are of colour
    images, so alpha is dropped and grey images compare as grey RGB.
    """
    if mode not in (GROUND_TRUTH, LOW_RESOLUTION):
        raise ValueError(f"mode must be {GROUND_TRUTH!r} or {LOW_RESOLUTION!r}, not {mode!r}")
    image = open_upload(path, pixel_cap)
    notices = list(image.notices)
    if image.alpha is not None:
        notices.append("the alpha channel is ignored in comparisons")
    if mode == LOW_RESOLUTION:
        return CompareInput(image.rgb, None, mode, (*notices, NO_REFERENCE))
    if min(image.width, image.height) < MIN_GROUND_TRUTH_SIDE:
        raise InvalidImageError(
            f"the image is {image.width}x{image.height} px; as ground truth it must be at least "
            f"{MIN_GROUND_TRUTH_SIDE}x{MIN_GROUND_TRUTH_SIDE} px: use a larger image or treat it as low resolution"
        )
    hr_uint8, lr_uint8 = make_lr(to_uint8(image.rgb), SCALE)
    return CompareInput(to_float(lr_uint8), hr_uint8, mode, tuple(notices))


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
    def caption(self) -> str:
        if self.status == DONE and self.psnr is not None:
            return f"{self.name}: {self.psnr:.2f} dB / {self.ssim:.4f}" + (
                "" if self.lpips is None else f" / LPIPS {self.lpips:.3f}")
        return self.name if self.status in (DONE, REFERENCE) else f"{self.name}: {self.status}"


def placeholder_image(width: int, height: int, text: str) -> np.ndarray:
    """A light-grey float HxWx3 image with ``text`` across it: the tile of a model that could not run.

    The text is sized to the image, so it reads the same in the gallery whatever the upload's size.
    """
    canvas = Image.new("RGB", (max(width, 1), max(height, 1)), (round(255 * PLACEHOLDER_GREY),) * 3)
    draw = ImageDraw.Draw(canvas)
    longest_line = max(len(line) for line in text.splitlines())
    font = ImageFont.load_default(size=max(6, int(0.8 * canvas.width / (0.6 * longest_line))))
    draw.multiline_text((canvas.width * 0.1, canvas.height * 0.1), text, fill=(60, 60, 60), font=font)
    return to_float(np.asarray(canvas))


def run_compare_model(
    name: str, source: CompareInput, out_dir: Path, tile: int | None = 0, model: LoadedModel | None = None
) -> CompareOutput:
    """Run one model on the comparison's LR, save its PNG and score it against the reference.

    ``model`` is one already loaded (a user's file, :func:`own_models`), shown as ``name``; else ``name`` is loaded.
    A model without weights becomes an "unavailable" tile; any other :class:`SRStudioError`
    (a corrupt weights file ...) becomes a "failed" tile with its message, so one broken model
    does not cost the user the whole comparison.
    """
    path = out_dir / f"{_file_stem(name)}.png"
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
    psnr = ssim = perceptual = None
    if source.hr_uint8 is not None:
        psnr, ssim = psnr_y(sr_uint8, source.hr_uint8), ssim_y(sr_uint8, source.hr_uint8)
        perceptual = source.reference_lpips(to_float(sr_uint8)) if source.reference_lpips else None
    return CompareOutput(name, path, DONE, seconds, model.parameters, psnr, ssim, perceptual)


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
        return (f"LPIPS needs an image of at least {smallest}x{smallest} px (this one is {width}x{height}); "
                "it is shown as empty")
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
        panels = [("PSNR (dB)", [o.psnr for o in scored]), ("SSIM", [o.ssim for o in scored]),
                  (LPIPS_PANEL, [o.lpips for o in scored]), *panels]
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
        raise CompareSettingsError("choose at least one model to compare")
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


def own_models(model_files: Sequence[str | Path]) -> dict[str, LoadedModel]:
    """Users' model files loaded by spandrel, by label ("file.pth (ESRGAN)"); every one read and checked to be x4
    (the protocol's scale) before any runs, so a bad file costs nothing but its one-line error."""
    models = [user_models.load_user_model(path) for path in model_files]
    for model in models:
        user_models.require_scale(model, "Compare")
    return {label: replace(model, name=label) for model, label in zip(models, distinct_labels([m.name for m in models]))}


def distinct_labels(labels: Sequence[str]) -> list[str]:
    """``labels`` with repeats numbered ("a.pth (ESRGAN)", "a.pth (ESRGAN) #2"): two uploads of one name stay two columns."""
    seen: dict[str, int] = {}
    distinct = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        distinct.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return distinct


def folder_model_choices() -> list[tuple[str, str]]:
    """(label, file name) of the readable model files in ``SR_STUDIO_USER_MODELS_DIR``, listed beside the bundled
    ones at start-up; an unreadable file is listed with its error so the user sees why it cannot be chosen."""
    choices = []
    for path in user_models.user_model_files():
        try:
            info = user_models.identify(path)
        except SRStudioError as error:
            choices.append((f"{path.name} (unreadable: {error})", path.name))
            continue
        choices.append((f"{info.label}, x{info.scale}", path.name))
    return choices


def folder_model_path(file_name: str) -> Path:
    """The path of a file of the user models folder chosen by name; names outside the folder's listing are refused,
    so a client can never make the server read another file."""
    listed = {path.name: path for path in user_models.user_model_files()}
    if file_name not in listed:
        shown = ", ".join(listed) or f"none: set {settings.USER_MODELS_DIR.name}"
        raise CompareSettingsError(f"no model file {file_name!r} in the user models folder; choose one of: {shown}")
    return listed[file_name]


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
                archive.write(output.path, f"{_file_stem(output.name)}.png")
        archive.write(csv_path, csv_path.name)
    return zip_path, csv_path


def _output_named(outputs: Sequence[CompareOutput], name: str) -> CompareOutput:
    for output in outputs:
        if output.name == name and output.has_output:
            return output
    shown = ", ".join(output.name for output in outputs if output.has_output) or "none yet: run a comparison"
    raise CompareSettingsError(f"no image named {name!r} among the results; choose one of: {shown}")


def slider_pair(outputs: Sequence[CompareOutput], before: str, after: str) -> tuple[str, str]:
    """The PNG paths of two results by name, for the before/after slider."""
    paths = _output_named(outputs, before).path, _output_named(outputs, after).path
    if not all(path.is_file() for path in paths):
        raise CompareSettingsError("these results have been cleaned up since; run the comparison again")
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
        rgb = _read_png(output.path)
        box = crop_box(rgb.shape[1], rgb.shape[0], center_x, center_y, size)
        path = out_dir / f"zoom_{_file_stem(output.name)}.png"
        save_image(to_float(zoom_crop(rgb, box, factor)), path)
        zoomed.append((str(path), f"{output.name} [{box[0]}:{box[2]}, {box[1]}:{box[3]}] x{factor}"))
    return zoomed


# --- Interpolate tab -----------------------------------------------------------------------


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
    raise CompareSettingsError(f"{gan_name!r} has no PSNR twin to interpolate with; choose one of: {known}")


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
        raise CompareSettingsError(f"network interpolation blends two model files, got {len(model_files)}: "
                                   "give a first (alpha = 0) and a second (alpha = 1)")
    first, second = (user_models.load_user_model(file) for file in model_files)
    for model in (first, second):
        user_models.require_scale(model, "Interpolate")
    return InterpolationEnds(str(model_files[0]), str(model_files[1]), True, f"{first.name} -> {second.name}")


@dataclass(frozen=True)
class InterpolationView:
    """The Interpolate tab at one alpha: PNGs of the network and the pixel blend, and a caption."""

    network_path: Path
    image_path: Path
    caption: str


def interpolation_view(
    path: str | Path, mode: str, gan_name: str, alpha: float, out_dir: Path, pixel_cap: int | None = None,
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
    stem = f"{_file_stem(Path(ends.second).stem)}_alpha{outputs.alpha:.2f}"
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
    path: str | Path, mode: str, gan_name: str, pixel_cap: int | None = None, progress: ProgressCallback | None = None,
    model_files: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """The perception-distortion data of :func:`perception_distortion_curve` for an upload, of the bundled pair
    or of two users' ``model_files`` (:func:`interpolation_ends`).

    Needs a reference: in low-resolution mode there is nothing to measure PSNR against.
    """
    if mode != GROUND_TRUTH:
        raise CompareSettingsError("the curve needs a reference: treat the upload as ground truth")
    ends = interpolation_ends(gan_name, model_files)
    source = prepare_input(path, mode, pixel_cap)
    return perception_distortion_curve(source.lr_rgb, source.hr_uint8, ends.first, ends.second, progress=progress,
                                       user_files=ends.user_files)


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
        figure.add_trace(go.Scatter(
            x=[rmse_from_psnr(psnr) for psnr in points["psnr"]], y=points["lpips"], mode="lines+markers+text",
            text=[f"{alpha:.1f}" for alpha in points["alpha"]], textposition="top right",
            name=f"{method} interpolation", line={"color": colour}, customdata=points[["alpha", "psnr"]],
            hovertemplate="alpha %{customdata[0]:.2f}: RMSE %{x:.2f} (PSNR %{customdata[1]:.2f} dB), LPIPS %{y:.4f}",
        ))
    figure.update_xaxes(title_text="distortion: RMSE of Y in 8-bit levels (lower is better)")
    figure.update_yaxes(title_text="perception: LPIPS, AlexNet (lower is better)")
    figure.update_layout(title="Perception-distortion plane; points labelled with alpha (0: PSNR model, 1: GAN)",
                         height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


def _distortion_against_alpha(curve: pd.DataFrame) -> go.Figure:
    """PSNR and SSIM against alpha for network and image interpolation, side by side: the plane without LPIPS."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=["PSNR (dB)", "SSIM"])
    for (method, points), colour in zip(curve.groupby("interpolation", sort=False), CURVE_COLOURS):
        for column, metric in enumerate(("psnr", "ssim"), start=1):
            figure.add_trace(
                go.Scatter(x=points["alpha"], y=points[metric], mode="lines+markers", name=f"{method} interpolation",
                           legendgroup=method, showlegend=column == 1, line={"color": colour}),
                row=1, col=column,
            )
    figure.update_xaxes(title_text="alpha (0: PSNR model, 1: GAN)")
    smallest = lpips.MIN_SIDE[lpips.DEFAULT_NETWORK]
    figure.update_layout(title=f"No LPIPS (its package is missing, or the image is under {smallest} px): "
                               "distortion against alpha only", height=360, margin={"l": 40, "r": 20, "t": 60, "b": 40})
    return figure
