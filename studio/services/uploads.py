"""An upload as the tabs use it: opened within the pixel cap, and prepared for comparison by the protocol.

In "ground truth" mode the upload is the HR image and the LR is made with the protocol's PIL bicubic,
so the tabs score models as ``evaluate`` does; in "low resolution" mode the upload is upscaled as it is
and there is nothing to measure against.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from sr_core import lpips
from sr_core.device import inference_dtype
from sr_core.errors import ImageTooLargeError, SRStudioError
from sr_core.imaging import (
    LoadedImage,
    bicubic_resize,
    open_image,
    pixel_cap_from_env,
    to_float,
    to_uint8,
)
from sr_core.protocol import check_hr_size, hr_and_lr

GROUND_TRUTH, LOW_RESOLUTION = "ground truth", "low resolution"
NO_REFERENCE = "no reference: the upload was treated as low resolution, so PSNR/SSIM cannot be measured"
# With "shrink", uploads up to this many times the pixel cap are decoded and shrunk to fit it.
SHRINK_HEADROOM = 4
SHRINK_LABEL = "Shrink images over the pixel cap to fit it"
ProgressCallback = Callable[[float, str], None]


class ServiceSettingsError(SRStudioError):
    """A choice in the app that cannot work (no model picked, an image that is not among the results)."""


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

        The reference's features are computed once for all the models, in the precision the app runs its
        models in (bf16 convolutions on CPUs with native bf16 unless ``SR_STUDIO_CPU_BF16=0``: within 0.001 of
        ``evaluate``'s float32 LPIPS). None without a reference or where LPIPS is unavailable (its package is
        missing: logged once); the function gives None for an image under the network's smallest side. Either
        way the tab shows it as empty.
        """
        if self.hr_uint8 is None:
            return None
        return lpips.lpips_against_or_none(to_float(self.hr_uint8), dtype=inference_dtype(torch.device("cpu")))


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
    check_hr_size(image.width, image.height, "the image", "use a larger image or treat it as low resolution")
    hr_uint8, lr_uint8 = hr_and_lr(to_uint8(image.rgb))
    return CompareInput(to_float(lr_uint8), hr_uint8, mode, tuple(notices))
