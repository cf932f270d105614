"""A folder of awkward inputs every upload and CLI path must survive, with what each must give.

Shared by the CLI tests and the hardening tests so each path is checked against one list.
Each file maps to the size of the image as it should be read (upright, first frame), or to
None when it must be refused with a clear message. Files are tiny except in their headers:
the bomb and the over-cap image are all-zero PNGs written row by row (a few kB on disk).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Big enough to serve as ground truth (the Compare tab needs 16 px), small enough to run in milliseconds.
WIDTH, HEIGHT = 24, 20
# PIL refuses more than twice its MAX_IMAGE_PIXELS (89 MP) as a decompression bomb.
BOMB_SIDE = 30000
# Over the default pixel cap (16.8 MP), under PIL's bomb limit: refused by our cap, from the header.
OVER_CAP_SIDE = 5000
EXIF_ORIENTATION = 0x0112


def _pattern(seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Smooth random colours (uint8 HxWx3), so JPEG keeps them recognisable."""
    coarse = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(width: int, height: int, bit_depth: int = 1, colour_type: int = 0, channels: int = 1) -> bytes:
    """A valid all-zero PNG of any size, compressed row by row so a huge one costs little memory."""
    row = bytes(1 + (width * bit_depth * channels + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def _mode_images(folder: Path) -> dict[str, tuple[int, int]]:
    rgb = Image.fromarray(_pattern(1))
    grey = rgb.convert("L")
    images = {
        "rgb.png": rgb,
        "rgba.png": rgb.convert("RGBA"),
        "grey.png": grey,
        "grey_alpha_la.png": rgb.convert("LA"),
        "palette.png": rgb.convert("P"),
        "one_bit.png": rgb.convert("1"),
        "cmyk.tif": rgb.convert("CMYK"),
        "grey16.png": grey.convert("I;16"),
        "int32.tif": grey.convert("I"),
        "float32.tif": grey.convert("F"),
        "cmyk.jpg": rgb.convert("CMYK"),
    }
    for name, image in images.items():
        image.save(folder / name)
    transparent = rgb.convert("P")
    transparent.save(folder / "palette_transparent.png", transparency=0)
    rgba = np.dstack([_pattern(2), np.linspace(0, 255, WIDTH * HEIGHT).reshape(HEIGHT, WIDTH).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "rgba_gradient_alpha.png")
    (folder / "colour16.png").write_bytes(zero_png(WIDTH, HEIGHT, bit_depth=16, colour_type=2, channels=3))
    return {
        name: (WIDTH, HEIGHT)
        for name in (*images, "palette_transparent.png", "rgba_gradient_alpha.png", "colour16.png")
    }


def _shape_images(folder: Path) -> dict[str, tuple[int, int]]:
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one_by_one.png")
    Image.fromarray(_pattern(3, 2000, 1)).save(folder / "wide_2000x1.png")
    first, second = Image.fromarray(_pattern(4)), Image.fromarray(255 - _pattern(4))
    first.save(folder / "animated.gif", save_all=True, append_images=[second], duration=100)
    first.save(folder / "animated.png", save_all=True, append_images=[second], duration=100)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display": stored 24x20, shown 20x24
    Image.fromarray(_pattern(5)).save(folder / "exif_rotated.jpg", exif=exif.tobytes(), quality=95)
    return {
        "one_by_one.png": (1, 1),
        "wide_2000x1.png": (2000, 1),
        "animated.gif": (WIDTH, HEIGHT),
        "animated.png": (WIDTH, HEIGHT),
        "exif_rotated.jpg": (HEIGHT, WIDTH),
    }


def _refused_files(folder: Path) -> dict[str, None]:
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("not an image at all")
    (folder / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    (folder / "page.png").write_text("<!DOCTYPE html><html><body><img src='photo.png'></body></html>")
    Image.fromarray(_pattern(6)).save(folder / "whole.png")
    Image.fromarray(_pattern(6)).save(folder / "whole.jpg", quality=95)
    (folder / "truncated.png").write_bytes((folder / "whole.png").read_bytes()[:120])
    (folder / "truncated.jpg").write_bytes((folder / "whole.jpg").read_bytes()[:400])
    (folder / "whole.png").unlink()
    (folder / "whole.jpg").unlink()
    (folder / "bomb.png").write_bytes(zero_png(BOMB_SIDE, BOMB_SIDE))
    (folder / "over_cap.png").write_bytes(zero_png(OVER_CAP_SIDE, OVER_CAP_SIDE))
    names = (
        "empty.png",
        "text.png",
        "drawing.svg",
        "page.png",
        "truncated.png",
        "truncated.jpg",
        "bomb.png",
        "over_cap.png",
    )
    return dict.fromkeys(names)


def write_odd_images(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Write the catalogue into ``folder`` (created); file name -> upright (width, height), or None: refuse."""
    folder.mkdir(parents=True)
    return {**_mode_images(folder), **_shape_images(folder), **_refused_files(folder)}


EXPECTED_SIZES: dict[str, tuple[int, int] | None] = {
    **dict.fromkeys(
        (
            "rgb.png",
            "rgba.png",
            "grey.png",
            "grey_alpha_la.png",
            "palette.png",
            "one_bit.png",
            "cmyk.tif",
            "grey16.png",
            "int32.tif",
            "float32.tif",
            "cmyk.jpg",
            "palette_transparent.png",
            "rgba_gradient_alpha.png",
            "colour16.png",
            "animated.gif",
            "animated.png",
        ),
        (WIDTH, HEIGHT),
    ),
    "one_by_one.png": (1, 1),
    "wide_2000x1.png": (2000, 1),
    "exif_rotated.jpg": (HEIGHT, WIDTH),
    **dict.fromkeys(
        (
            "empty.png",
            "text.png",
            "drawing.svg",
            "page.png",
            "truncated.png",
            "truncated.jpg",
            "bomb.png",
            "over_cap.png",
        )
    ),
}
"""The catalogue's file names (known when tests are collected, so they can be parametrised) and expectations."""


def first_frame_upright(path: Path) -> np.ndarray:
    """What a correct reader makes of ``path``: its first frame, turned upright, as uint8 RGB."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
