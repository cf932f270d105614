"""SRResNet, the SRGAN generator (Ledig et al.; thesis ch. 5).

B residual blocks (conv-BN-PReLU-conv-BN + skip), a long skip over the body, and two
sub-pixel x2 upsamplers (conv to 4x channels, PixelShuffle, PReLU). SRGAN is this network
trained with a perceptual loss; only the weights differ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sr_core.models.family import ModelFamily, ModelSpec, StateDict, SubpixelTail, count_indices, has_keys


class ResidualBlockBN(nn.Module):
    """k3n64s1 conv, BN, PReLU, k3n64s1 conv, BN, element-wise sum."""

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(num_feat)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class SubPixelUpsample(nn.Module):
    """Conv to factor**2 x channels, PixelShuffle(factor), PReLU (Shi et al.'s sub-pixel layer)."""

    def __init__(self, num_feat: int = 64, factor: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat * factor**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(nn.Module):
    """The SRGAN generator: LR RGB in [0, 1] -> SR RGB (linear output, clamp when displaying)."""

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, num_block: int = 16, scale: int = 4) -> None:
        super().__init__()
        if scale & (scale - 1) or scale < 2:
            raise ValueError("SRResNet upsamples by powers of two (x2 sub-pixel stages)")
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, padding=4)
        self.act_first = nn.PReLU()
        self.body = nn.Sequential(*[ResidualBlockBN(num_feat) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.bn_body = nn.BatchNorm2d(num_feat)
        self.upsample = nn.Sequential(*[SubPixelUpsample(num_feat) for _ in range(int(math.log2(scale)))])
        self.conv_last = nn.Conv2d(num_feat, num_in_ch, 9, padding=4)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        shallow = self.act_first(self.conv_first(lr))
        deep = self.bn_body(self.conv_body(self.body(shallow))) + shallow
        return self.conv_last(self.upsample(deep))


def _srresnet_kwargs(sd: StateDict) -> dict[str, int]:
    return {
        "num_in_ch": sd["conv_first.weight"].shape[1],
        "num_feat": sd["conv_first.weight"].shape[0],
        "num_block": count_indices(sd.keys(), "body."),
        "scale": 2 ** count_indices(sd.keys(), "upsample."),
    }


FAMILIES = (
    ModelFamily(
        "srresnet",
        2017,
        specs=(
            ModelSpec(
                "srresnet",
                "srresnet",
                SRResNet,
                "SRResNet (MSE), 16 residual blocks with BN",
                "Ledig et al. 2017; thesis ch. 5",
                int8_variant=True,
            ),
            ModelSpec(
                "srgan",
                "srresnet",
                SRResNet,
                "SRGAN generator (perceptual + adversarial)",
                "Ledig et al. 2017; thesis ch. 5",
                discriminator="srgan_discriminator",
                int8_variant=True,
            ),
        ),
        recognises=has_keys("conv_first.weight", "act_first.weight", "bn_body.weight"),
        kwargs_from_weights=_srresnet_kwargs,
        bn_convs={"bn_body": "conv_body"},
        subpixel_tail=SubpixelTail(upsampler="upsample", last_conv="conv_last", shuffle="shuffle"),
    ),
)
