"""The evaluation protocol of the SR papers, end to end.

HR image -> crop to a multiple of 4 -> PIL bicubic x1/4 (uint8) -> model -> uint8 -> PSNR and
SSIM on the Y channel with a 4-pixel border removed. Two more numbers keep GAN models honest:
the detail ratio (fine detail relative to HR, where PSNR-oriented models fall short) and the
colour shift (mean colour error in levels, which Y-channel PSNR cannot see). ``python -m sr_core evaluate`` and the
weights manifest's scores both come from :func:`evaluate_model`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sr_core.errors import InvalidImageError
from sr_core.imaging import make_lr, open_image, pixel_cap_from_env, to_float, to_uint8
from sr_core.inference import auto_tile_size, batch_to_image, image_to_batch, load_model, upscale_tensor
from sr_core.lpips import lpips_or_none
from sr_core.metrics import colour_shift, detail_ratio, psnr_y, ssim_y, stripe_score
from sr_core.registry import SCALE

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
# The smallest HR side the protocol can score: cropped to a multiple of 4, a 4-pixel border must leave pixels.
MIN_HR_SIDE = 12


@dataclass(frozen=True)
class ImageScore:
    """One model on one image."""

    image: str
    psnr: float
    ssim: float
    seconds: float
    detail: float
    colour_shift: float
    lpips: float | None  # None where the LPIPS network's package is not installed, or the image is too small for it
    stripes: float


@dataclass(frozen=True)
class ModelScore:
    """One model over a data set: the mean figures the papers' tables report."""

    model: str
    images: tuple[ImageScore, ...]
    parameters: int

    @property
    def psnr(self) -> float:
        return float(np.mean([score.psnr for score in self.images]))

    @property
    def ssim(self) -> float:
        return float(np.mean([score.ssim for score in self.images]))

    @property
    def detail(self) -> float:
        return float(np.mean([score.detail for score in self.images]))

    @property
    def colour_shift(self) -> float:
        """The worst image's shift: one tinted image is a fault that an average would hide."""
        return float(np.max([score.colour_shift for score in self.images]))

    @property
    def lpips(self) -> float | None:
        """Mean LPIPS (AlexNet) over the images large enough for it, or None where no image has one."""
        values = [score.lpips for score in self.images if score.lpips is not None]
        return float(np.mean(values)) if values else None

    @property
    def stripes(self) -> float:
        """The median image's stripe score: a periodic artefact shows in most images, one striped photo does not."""
        return float(np.median([score.stripes for score in self.images]))

    @property
    def seconds_per_image(self) -> float:
        return float(np.mean([score.seconds for score in self.images]))


def manifest_scores(score: ModelScore, data_folder: str | Path) -> dict[str, float]:
    """``score`` as the weights manifest records it: ``{"set5_psnr_y": 29.97, "set5_ssim_y": ...}``."""
    data = Path(data_folder).name.lower()
    scores = {f"{data}_psnr_y": round(score.psnr, 4), f"{data}_ssim_y": round(score.ssim, 5),
              f"{data}_detail_ratio": round(score.detail, 4), f"{data}_colour_shift_max": round(score.colour_shift, 3),
              f"{data}_stripe_score": round(score.stripes, 3)}
    if score.lpips is not None:
        scores[f"{data}_lpips"] = round(score.lpips, 4)
    return scores


def image_files(folder: str | Path) -> list[Path]:
    """The images of ``folder`` in name order (non-images such as SOURCES.md are skipped)."""
    return sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def evaluate_model(model_name: str, hr_files: list[Path], weights_file: str | None = None) -> ModelScore:
    """Run the protocol for one model over ``hr_files``; raises WeightsNotFoundError without weights.

    Always in float32, whatever precision the app uses on this host (bf16 CPUs, GPUs), so the
    scores are the network's and comparable with the papers' and the manifest's.
    """
    model = load_model(model_name, weights_file, dtype=torch.float32)
    return ModelScore(model_name, score_network(model.network, hr_files, model.device), model.parameters)


def score_network(network: Callable[[torch.Tensor], torch.Tensor], hr_files: list[Path],
                  device: torch.device | None = None) -> tuple[ImageScore, ...]:
    """The protocol's scores of any x4 network taking float NCHW in [0, 1] (a quantized graph too) on ``device`` (CPU)."""
    device = device or torch.device("cpu")
    tile = auto_tile_size(device)
    perceptual_distance = lpips_or_none()
    scores = []
    for path in hr_files:
        hr_uint8 = to_uint8(open_image(path, pixel_cap=pixel_cap_from_env()).rgb)
        _check_scorable(hr_uint8, path)
        hr_cropped, lr_uint8 = make_lr(hr_uint8, SCALE)
        started = time.perf_counter()
        sr = upscale_tensor(network, image_to_batch(to_float(lr_uint8), device), tile)
        seconds = time.perf_counter() - started
        sr_uint8 = to_uint8(batch_to_image(sr))
        scores.append(ImageScore(
            path.stem, psnr_y(sr_uint8, hr_cropped), ssim_y(sr_uint8, hr_cropped), seconds,
            detail_ratio(sr_uint8, hr_cropped), colour_shift(sr_uint8, hr_cropped),
            perceptual_distance(to_float(sr_uint8), to_float(hr_cropped)) if perceptual_distance else None,
            stripe_score(sr_uint8),
        ))
    return tuple(scores)


def _check_scorable(hr_uint8: np.ndarray, path: Path) -> None:
    """Refuse, naming the file, an HR image too small for the protocol (1x1, 2000x1 ...)."""
    height, width = hr_uint8.shape[:2]
    if min(height, width) < MIN_HR_SIDE:
        raise InvalidImageError(
            f"'{path.name}' is {width}x{height} px; the protocol scores HR images of at least "
            f"{MIN_HR_SIDE}x{MIN_HR_SIDE} px (x4 round trip, 4-pixel border): remove it from the data folder"
        )
