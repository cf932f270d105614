"""Building blocks shared by several model families.

Only what more than one family uses lives here: weight initialisation, PIL-exact resampling
in torch (SRCNN's input and the interpolation baselines), and BT.601 colour conversion (SRCNN's
Y-channel mode). Blocks that belong to one paper stay in that paper's module.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from sr_core.imaging import YCBCR_MATRIX, YCBCR_OFFSET

# ITU-R BT.601 as in MATLAB's rgb2ycbcr (the metrics' matrix), for RGB in [0, 1] giving YCbCr in [0, 1].
RGB_TO_YCBCR = torch.from_numpy(YCBCR_MATRIX)
YCBCR_OFFSET_01 = torch.from_numpy(YCBCR_OFFSET / 255.0)


def default_init_weights(module: nn.Module, scale: float = 1.0) -> None:
    """Kaiming-normal init scaled by ``scale``, zero bias.

    ESRGAN scales its residual-dense convolutions by 0.1 so that a deep stack of residual
    blocks starts close to the identity and trains stably without batch norm. A network built on
    the meta device (to count its parameters) has no values to initialise and is left alone.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)) and not layer.weight.is_meta:
            nn.init.kaiming_normal_(layer.weight)
            layer.weight.data.mul_(scale)
            if layer.bias is not None:
                layer.bias.data.zero_()


def _pil_bicubic_kernel(distance: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel with PIL's a = -0.5 (torch uses -0.75)."""
    x = np.abs(distance)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@functools.lru_cache(maxsize=64)
def pil_bicubic_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """The (out_size, in_size) matrix that PIL's BICUBIC resize applies along one axis.

    Follows PIL's ``precompute_coeffs``: the kernel is stretched by the scale when
    downsampling (antialiasing), taps outside the image are dropped and the remaining weights
    renormalised. Applying it on both axes of a float image reproduces ``Image.resize(...,
    BICUBIC)`` up to PIL's 8-bit rounding.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 2.0 * filter_scale
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for out_index in range(out_size):
        center = (out_index + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        last = min(int(center + support + 0.5), in_size)
        taps = np.arange(first, last)
        weights = _pil_bicubic_kernel((taps - center + 0.5) / filter_scale)
        matrix[out_index, first:last] = weights / weights.sum()
    return torch.from_numpy(matrix).float()


def pil_bicubic_resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a float NCHW tensor in [0, 1] as PIL's BICUBIC does, without 8-bit rounding.

    Like PIL, the horizontal pass runs first and its overshoot is clipped to the valid range
    before the vertical pass; the result is not clamped.
    """
    rows = pil_bicubic_matrix(image.shape[-2], height).to(image.device, image.dtype)
    cols = pil_bicubic_matrix(image.shape[-1], width).to(image.device, image.dtype)
    horizontal = torch.matmul(image, cols.transpose(0, 1)).clamp(0.0, 1.0)
    return torch.matmul(rows, horizontal)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 RGB -> YCbCr for float NCHW tensors in [0, 1] (MATLAB ``rgb2ycbcr`` / 255)."""
    matrix = RGB_TO_YCBCR.to(rgb.device, rgb.dtype)
    offset = YCBCR_OFFSET_01.to(rgb.device, rgb.dtype).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", matrix, rgb) + offset


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    matrix = torch.linalg.inv(RGB_TO_YCBCR).to(ycbcr.dtype)
    offset = YCBCR_OFFSET_01.to(ycbcr.device, ycbcr.dtype).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", matrix.to(ycbcr.device), ycbcr - offset)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, the figure the papers quote (BN running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def same_padding(kernel_size: int) -> int:
    """Padding that keeps the spatial size for an odd kernel at stride 1."""
    return kernel_size // 2
