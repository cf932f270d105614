"""Where the app's results go: one fresh folder of lossless PNGs per request, pruned after hours.

Every image leaves the services as a PNG written by :func:`sr_core.imaging.save_image` (the app
only shows files), so what users compare is the models' output, never a lossy re-encoding.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sr_core.imaging import to_float
from studio.services.uploads import ServiceSettingsError

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "sr_studio"
OUTPUT_MAX_AGE_S = 6 * 3600
PLACEHOLDER_GREY = 0.85


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


def file_stem(text: str) -> str:
    """A safe file-name stem: letters, digits, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "image"


def read_png(path: str | Path) -> np.ndarray:
    """An 8-bit RGB array of one of the PNGs this module wrote (trusted, already validated).

    Old results are pruned by :func:`new_output_dir`; a page left open for hours is told to
    run again rather than shown a traceback.
    """
    if not Path(path).is_file():
        raise ServiceSettingsError("these results have been cleaned up since; run the comparison again")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


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
