"""The evaluation protocol of the SR papers, in one place: every score SR Studio shows is made here.

HR image -> crop to a multiple of 4 -> PIL bicubic x1/4 in 8 bits (the LR) -> model -> uint8 ->
PSNR and SSIM on the Y channel (BT.601) with a 4-pixel border removed; LPIPS on the whole RGB
image. ``evaluate``, the Compare tab, the MOS study, network interpolation and training
validation all take their HR/LR pairs from :func:`hr_and_lr` and score through :func:`score_pair`,
so the same image gets the same numbers everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_core.errors import InvalidImageError
from sr_core.imaging import make_lr, to_float
from sr_core.metrics import SSIM_WINDOW, psnr_y, ssim_y

SCALE = 4
IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
MIN_HR_SIDE = -(-SSIM_WINDOW // SCALE) * SCALE
"""The smallest HR side the protocol can score (12 px): cropped to a multiple of 4, it must still hold
SSIM's 11x11 window (whose border is reduced to fit, see :func:`sr_core.metrics.ssim_y`)."""

LpipsAgainstHR = Callable[[np.ndarray], "float | None"]
"""LPIPS of a float HxWx3 image in [0, 1] against one fixed HR (:func:`sr_core.lpips.lpips_against_or_none`)."""


@dataclass(frozen=True)
class PairScore:
    """An SR image against its HR: PSNR (dB) and SSIM on Y, LPIPS (None where it cannot be measured)."""

    psnr: float
    ssim: float
    lpips: float | None


def image_files(folder: str | Path) -> list[Path]:
    """The images of ``folder`` in name order (non-images such as SOURCES.md are skipped)."""
    return sorted(path for path in Path(folder).iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def check_hr_size(width: int, height: int, name: str, remedy: str) -> None:
    """Refuse an HR image too small for the protocol (1x1, 2000x1 ...), naming it (``name``) and what to do."""
    if min(width, height) < MIN_HR_SIDE:
        raise InvalidImageError(
            f"{name} is {width}x{height} px; the protocol scores HR images of at least {MIN_HR_SIDE}x{MIN_HR_SIDE} px "
            f"(x{SCALE} round trip, 4-pixel border): {remedy}"
        )


def hr_and_lr(hr_uint8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(HR cropped to a multiple of 4, its PIL-bicubic x1/4 LR), both uint8 HxWx3: the pair every score uses."""
    return make_lr(hr_uint8, SCALE)


def score_pair(sr_uint8: np.ndarray, hr_uint8: np.ndarray, lpips_against_hr: LpipsAgainstHR | None = None) -> PairScore:
    """The protocol's scores of an SR image (uint8 HxWx3) against its cropped HR; LPIPS only with ``lpips_against_hr``."""
    perceptual = lpips_against_hr(to_float(sr_uint8)) if lpips_against_hr else None
    return PairScore(psnr_y(sr_uint8, hr_uint8), ssim_y(sr_uint8, hr_uint8), perceptual)
