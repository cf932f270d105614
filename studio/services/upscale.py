"""What the Upscale tab does: one upload through one model (x4, or a user's file at its own scale), saved as PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sr_core import user_models
from sr_core.imaging import save_image
from sr_core.inference import (
    load_model,
    upscale_with,
)
from sr_core.protocol import SCALE
from studio.services.outputs import file_stem
from studio.services.uploads import open_upload


@dataclass(frozen=True)
class UpscaleOutcome:
    """The x4 PNG of one upload and a one-line summary (model, sizes, seconds) for the user."""

    path: Path
    summary: str
    notices: tuple[str, ...]


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
    output = out_dir / f"{file_stem(Path(path).stem)}_{file_stem(model.name)}_x{model.scale}.png"
    save_image(result.rgb, output, alpha=result.alpha, grayscale=result.grayscale, bit_depth=result.bit_depth)
    width, height = result.size
    summary = f"{model.name}: {image.width}x{image.height} -> {width}x{height} px in {result.seconds:.2f} s"
    return UpscaleOutcome(output, summary, tuple(result.notices))


def upscale_label(model_file: str | Path | None = None) -> str:
    """The Upscale button's text, stating the scale a run will have: x4 for the bundled models, a user's file its
    own (read as :func:`upscale_file` reads it, so a bad file is refused here already)."""
    scale = SCALE if model_file is None else user_models.load_weights_file(model_file).scale
    return f"Upscale x{scale}"
