"""The parameter-free baselines: nearest neighbour and bicubic x4, the floor every learned model must beat."""

from __future__ import annotations

import torch
from torch import nn

from sr_core.models.blocks import pil_bicubic_resize
from sr_core.models.family import ModelFamily, ModelSpec


class Interpolation(nn.Module):
    """A parameter-free x``scale`` upscaler: the baselines every learned model must beat.

    ``bicubic`` reproduces PIL's BICUBIC (the evaluation protocol's operator), ``nearest``
    repeats pixels (the MOS protocol's calibration anchor for a score of 1).
    """

    def __init__(self, mode: str = "bicubic", scale: int = 4) -> None:
        super().__init__()
        if mode not in ("bicubic", "nearest"):
            raise ValueError(f"interpolation mode must be 'bicubic' or 'nearest', not {mode!r}")
        self.mode = mode
        self.scale = scale

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return lr.repeat_interleave(self.scale, dim=-2).repeat_interleave(self.scale, dim=-1)
        return pil_bicubic_resize(lr, lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)


FAMILIES = (
    ModelFamily(
        "interpolation",
        1981,
        specs=(
            ModelSpec(
                "nearest",
                "interpolation",
                Interpolation,
                "Nearest-neighbour x4 (MOS score-1 anchor)",
                "baseline",
                kind="baseline",
                default_kwargs={"mode": "nearest"},
            ),
            ModelSpec(
                "bicubic",
                "interpolation",
                Interpolation,
                "Bicubic x4, PIL/MATLAB kernel (a = -0.5)",
                "baseline",
                kind="baseline",
                default_kwargs={"mode": "bicubic"},
            ),
        ),
    ),
)
