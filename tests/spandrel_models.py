"""Tiny community models, built with spandrel's own architecture classes and random weights, saved as state dicts.

They stand in for the checkpoints users bring (Real-ESRGAN, SRVGGNetCompact, SwinIR, HAT, DAT): the same key
layouts and shape rules, small enough to run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


def _esrgan(scale: int) -> nn.Module:
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(num_filters=8, num_blocks=1, scale=scale)


def _compact(scale: int) -> nn.Module:
    from spandrel.architectures.Compact import Compact

    return Compact(num_feat=8, num_conv=2, upscale=scale)


def _swinir(scale: int) -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(
        img_size=16,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=4,
        upscale=scale,
        upsampler="pixelshuffle",
        mlp_ratio=2.0,
    )


def _hat(scale: int) -> nn.Module:
    from spandrel.architectures.HAT import HAT

    return HAT(
        img_size=16,
        embed_dim=12,
        depths=(1,),
        num_heads=(2,),
        window_size=4,
        upscale=scale,
        squeeze_factor=2,
        num_feat=16,
        mlp_ratio=2.0,
    )


def _dat(scale: int) -> nn.Module:
    from spandrel.architectures.DAT import DAT

    return DAT(
        img_size=16, embed_dim=16, split_size=[2, 4], depth=[1], num_heads=[2], upscale=scale, expansion_factor=2.0
    )


# name -> (builder taking the scale, the architecture spandrel names). Transformers: window 4 and one block.
TINY_SPANDREL_MODELS: dict[str, tuple[Callable[[int], nn.Module], str]] = {
    "esrgan": (_esrgan, "ESRGAN"),
    "compact": (_compact, "RealESRGAN Compact"),
    "swinir": (_swinir, "SwinIR"),
    "hat": (_hat, "HAT"),
    "dat": (_dat, "DAT"),
}


def save_tiny_model(name: str, folder: Path, scale: int = 4, suffix: str = ".safetensors", seed: int = 0) -> Path:
    """``folder/<name>_x<scale><suffix>``: the tiny model's random state dict as safetensors or a torch.save pickle."""
    torch.manual_seed(seed)
    state_dict = {key: tensor.contiguous() for key, tensor in TINY_SPANDREL_MODELS[name][0](scale).state_dict().items()}
    path = folder / f"{name}_x{scale}{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    if suffix == ".safetensors":
        save_file(state_dict, path)
    else:
        torch.save(state_dict, path)
    return path
