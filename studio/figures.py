"""The README's side-by-side picture: one crop of an image through every model, labelled.

``python -m sr_core figure IMAGE OUT.png`` treats IMAGE as ground truth (the Compare tab's
protocol: x4 bicubic LR -> each model), cuts the same square from every output and from the
HR, enlarges it with nearest neighbour and labels each tile with the model, its PSNR and its
LPIPS (AlexNet, lower is better) on the whole image. Models without weights get the Compare
tab's "unavailable" tile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sr_core.imaging import save_image, to_float
from studio.services import compare, uploads

# Two 13 px lines: the model's name, then its scores.
LABEL_HEIGHT = 38
GAP = 4


def labelled_tile(rgb_uint8: np.ndarray, label: str) -> Image.Image:
    """``rgb_uint8`` with ``label`` written in a white band under it."""
    height, width = rgb_uint8.shape[:2]
    tile = Image.new("RGB", (width, height + LABEL_HEIGHT), "white")
    tile.paste(Image.fromarray(rgb_uint8), (0, 0))
    ImageDraw.Draw(tile).text((4, height + 4), label, fill="black", font=ImageFont.load_default(size=13))
    return tile


def tile_label(output: compare.CompareOutput) -> str:
    """The model's name over its scores (``31.23 dB, LPIPS 0.123``; LPIPS left out where it is unavailable).

    Two short lines, because a tile is only ``size * factor`` px wide (192 by default).
    """
    if output.psnr is None:
        return output.caption
    scores = f"{output.psnr:.2f} dB" + ("" if output.lpips is None else f", LPIPS {output.lpips:.3f}")
    return f"{output.name}\n{scores}"


def comparison_strip(
    image_path: str | Path,
    model_names: Sequence[str],
    center: tuple[float, float] = (0.5, 0.5),
    size: int = 64,
    factor: int = 3,
) -> np.ndarray:
    """The crop at ``center`` (fractions of the image) of side ``size`` px through every model, side by side, uint8."""
    source = uploads.prepare_input(image_path, uploads.GROUND_TRUTH)
    with tempfile.TemporaryDirectory() as folder:
        out_dir = Path(folder)
        outputs = [compare.run_compare_model(name, source, out_dir) for name in model_names]
        reference = compare.reference_output(source, out_dir)
        tiles = []
        for output in [*outputs, *([reference] if reference else [])]:
            rgb = np.asarray(Image.open(output.image_path).convert("RGB"))
            box = compare.crop_box(rgb.shape[1], rgb.shape[0], *center, size)
            tiles.append(labelled_tile(compare.zoom_crop(rgb, box, factor), tile_label(output)))
    width = sum(tile.width for tile in tiles) + GAP * (len(tiles) - 1)
    strip = Image.new("RGB", (width, max(tile.height for tile in tiles)), "white")
    left = 0
    for tile in tiles:
        strip.paste(tile, (left, 0))
        left += tile.width + GAP
    return np.asarray(strip)


def save_comparison_strip(strip: np.ndarray, path: str | Path) -> None:
    """Write the strip as a metadata-free PNG."""
    save_image(to_float(strip), Path(path))
