"""A model over a folder of HR images, scored by the SR papers' protocol (:mod:`sr_core.protocol`).

Beside PSNR, SSIM and LPIPS, two more numbers keep GAN models honest:
the detail ratio (fine detail relative to HR, where PSNR-oriented models fall short) and the
colour shift (mean colour error in levels, which Y-channel PSNR cannot see). ``python -m sr_core evaluate`` and the
weights manifest's scores both come from :func:`evaluate_model`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sr_core.imaging import open_image, pixel_cap_from_env, to_float, to_uint8
from sr_core.inference import auto_tile_size, batch_to_image, image_to_batch, load_model, upscale_tensor
from sr_core.lpips import lpips_against_or_none
from sr_core.metrics import colour_shift, detail_ratio, stripe_score
from sr_core.protocol import check_hr_size, hr_and_lr, score_pair


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
    scores = {
        f"{data}_psnr_y": round(score.psnr, 4),
        f"{data}_ssim_y": round(score.ssim, 5),
        f"{data}_detail_ratio": round(score.detail, 4),
        f"{data}_colour_shift_max": round(score.colour_shift, 3),
        f"{data}_stripe_score": round(score.stripes, 3),
    }
    if score.lpips is not None:
        scores[f"{data}_lpips"] = round(score.lpips, 4)
    return scores


def evaluate_model(model_name: str, hr_files: list[Path], weights_file: str | None = None) -> ModelScore:
    """Run the protocol for one model over ``hr_files``; raises WeightsNotFoundError without weights.

    Always in float32, whatever precision the app uses on this host (bf16 CPUs, GPUs), so the
    scores are the network's and comparable with the papers' and the manifest's.
    """
    model = load_model(model_name, weights_file, dtype=torch.float32)
    tile = auto_tile_size(model.device, model.activation_bytes_per_lr_pixel)
    return ModelScore(model_name, score_network(model.network, hr_files, model.device, tile), model.parameters)


def score_network(
    network: nn.Module,
    hr_files: list[Path],
    device: torch.device | None = None,
    tile: int | None = None,
) -> tuple[ImageScore, ...]:
    """The protocol's scores of any x4 network taking float NCHW in [0, 1] (a quantized graph too) on ``device`` (CPU),
    cut into LR tiles of ``tile`` (default: chosen from free memory)."""
    device = device or torch.device("cpu")
    tile = tile or auto_tile_size(device)
    scores = []
    for path in hr_files:
        hr_uint8 = to_uint8(open_image(path, pixel_cap=pixel_cap_from_env()).rgb)
        check_hr_size(hr_uint8.shape[1], hr_uint8.shape[0], f"'{path.name}'", "remove it from the data folder")
        hr_cropped, lr_uint8 = hr_and_lr(hr_uint8)
        started = time.perf_counter()
        sr = upscale_tensor(network, image_to_batch(to_float(lr_uint8), device), tile)
        seconds = time.perf_counter() - started
        sr_uint8 = to_uint8(batch_to_image(sr))
        pair = score_pair(sr_uint8, hr_cropped, lpips_against_or_none(to_float(hr_cropped)))
        scores.append(
            ImageScore(
                path.stem,
                pair.psnr,
                pair.ssim,
                seconds,
                detail_ratio(sr_uint8, hr_cropped),
                colour_shift(sr_uint8, hr_cropped),
                pair.lpips,
                stripe_score(sr_uint8),
            )
        )
    return tuple(scores)
