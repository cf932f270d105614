"""VGG-style discriminators of SRGAN and ESRGAN.

Both are a stack of conv pairs (stride 1 then stride 2) widening 64 -> 512, LeakyReLU 0.2 and
BN after the first conv, then a dense head. They differ only in numbers, so one class takes
the paper's table as arguments:
- SRGAN (Ledig et al.): 3x3 stride-2 convs, 96x96 input -> 6x6, dense 1024, then the sigmoid.
- ESRGAN (VGG128, Wang et al.): 4x4 stride-2 convs and one more pair, 128x128 -> 4x4, dense 100.
An adaptive average pool makes the head accept other crop sizes; at the paper's size it is
the identity. Every discriminator here returns logits, and the sigmoid SRGAN's ends with is
applied by its loss (:class:`sr_core.losses.GANLoss`, in log space): so either GAN loss can
judge with either discriminator, and a saturated D still passes gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sr_core.models.family import ModelFamily, ModelSpec, StateDict, has_keys


class VGGStyleDiscriminator(nn.Module):
    """Conv pairs (k3 s1, k``down_kernel`` s2) of the given widths, then dense ``hidden`` -> 1."""

    def __init__(
        self,
        in_channels: int = 3,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        down_kernel: int = 3,
        pooled_size: int = 6,
        hidden: int = 1024,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index, width in enumerate(widths):
            layers += self._conv(in_channels, width, 3, stride=1, batch_norm=index > 0)
            layers += self._conv(width, width, down_kernel, stride=2, batch_norm=True)
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(pooled_size),
            nn.Flatten(),
            nn.Linear(widths[-1] * pooled_size**2, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )

    @staticmethod
    def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, batch_norm: bool) -> list[nn.Module]:
        """Conv (no bias before BN), optional BN, LeakyReLU 0.2."""
        padding = (kernel - 1) // 2 if stride == 1 else (kernel - stride + 1) // 2
        conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=not batch_norm)
        norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
        return [conv, *norm, nn.LeakyReLU(0.2, inplace=True)]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image))


def srgan_discriminator(in_channels: int = 3) -> VGGStyleDiscriminator:
    """SRGAN: k3n64s1 ... k3n512s2 (8 convs), dense 1024 (sigmoid in the loss); 96x96 crops."""
    return VGGStyleDiscriminator(in_channels, (64, 128, 256, 512), down_kernel=3, pooled_size=6, hidden=1024)


def esrgan_discriminator(in_channels: int = 3) -> VGGStyleDiscriminator:
    """ESRGAN's VGG128: 10 convs up to 512 with 4x4 stride-2 convs, dense 100; 128x128 crops."""
    return VGGStyleDiscriminator(in_channels, (64, 128, 256, 512, 512), down_kernel=4, pooled_size=4, hidden=100)


def _with_down_kernel(kernel: int) -> Callable[[StateDict], bool]:
    """SRGAN's and ESRGAN's discriminators share names; their first stride-2 conv is 3x3 or 4x4."""
    is_vgg_discriminator = has_keys("features.0.weight", "features.2.weight", "head.2.weight")

    def recognises(state_dict: StateDict) -> bool:
        return is_vgg_discriminator(state_dict) and state_dict["features.2.weight"].shape[-1] == kernel

    return recognises


def _vgg_discriminator_kwargs(sd: StateDict) -> dict[str, int]:
    return {"in_channels": sd["features.0.weight"].shape[1]}


FAMILIES = (
    ModelFamily(
        "srgan_discriminator",
        2017,
        specs=(
            ModelSpec(
                "srgan_discriminator",
                "srgan_discriminator",
                srgan_discriminator,
                "SRGAN discriminator: 8 convs 64->512, dense 1024 (logits; sigmoid in the loss)",
                "Ledig et al. 2017",
                kind="discriminator",
            ),
        ),
        recognises=_with_down_kernel(3),
        kwargs_from_weights=_vgg_discriminator_kwargs,
    ),
    ModelFamily(
        "esrgan_discriminator",
        2018,
        specs=(
            ModelSpec(
                "esrgan_discriminator",
                "esrgan_discriminator",
                esrgan_discriminator,
                "ESRGAN VGG128 discriminator (relativistic, logits)",
                "Wang et al. 2018",
                kind="discriminator",
            ),
        ),
        recognises=_with_down_kernel(4),
        kwargs_from_weights=_vgg_discriminator_kwargs,
    ),
)
