"""Swift-SRGAN (Krishnan & Sahin): SRGAN rebuilt from depthwise-separable convolutions.

Module and key names follow the authors' released code (``initial``, ``residual.N.block{1,2}``,
``convblock``, ``upsampler.{0,1}``, ``final_conv``) so their checkpoint loads unchanged. Like
theirs, a conv block without activation still owns its (unused) PReLU: the released x4
generator has 283 tensors and 201,209 parameters, about 1/8 of SRResNet's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sr_core.models.family import ModelFamily, ModelSpec, StateDict, SubpixelTail, count_indices, has_keys


class SeparableConv2d(nn.Module):
    """A per-channel (depthwise) k x k conv followed by a 1x1 (pointwise) conv that mixes channels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels, bias=bias
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConvBlock(nn.Module):
    """Separable conv, optional BN (the conv then has no bias), then PReLU (generator) or LeakyReLU 0.2 (discriminator)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        use_act: bool = True,
        use_bn: bool = True,
        discriminator: bool = False,
    ) -> None:
        super().__init__()
        self.use_act = use_act
        self.cnn = SeparableConv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=not use_bn)
        self.bn = nn.BatchNorm2d(out_channels) if use_bn else nn.Identity()
        self.act = nn.LeakyReLU(0.2, inplace=True) if discriminator else nn.PReLU(num_parameters=out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.cnn(x))
        return self.act(out) if self.use_act else out


class SeparableResidualBlock(nn.Module):
    """Two separable conv blocks (the second without activation) and an identity skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block1 = SeparableConvBlock(channels, channels)
        self.block2 = SeparableConvBlock(channels, channels, use_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block2(self.block1(x))


class SeparableUpsample(nn.Module):
    """Separable conv to 4x channels, PixelShuffle(2), per-channel PReLU."""

    def __init__(self, channels: int, factor: int = 2) -> None:
        super().__init__()
        self.conv = SeparableConv2d(channels, channels * factor**2, 3)
        self.ps = nn.PixelShuffle(factor)
        self.act = nn.PReLU(num_parameters=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.ps(self.conv(x)))


class SwiftSRGANGenerator(nn.Module):
    """LR RGB in [0, 1] -> SR RGB in [0, 1]; the output is ``(tanh + 1) / 2`` as released."""

    def __init__(self, in_channels: int = 3, num_channels: int = 64, num_blocks: int = 16, scale: int = 4) -> None:
        super().__init__()
        if scale & (scale - 1) or scale < 2:
            raise ValueError("Swift-SRGAN upsamples by powers of two")
        self.initial = SeparableConvBlock(in_channels, num_channels, kernel_size=9, use_bn=False)
        self.residual = nn.Sequential(*[SeparableResidualBlock(num_channels) for _ in range(num_blocks)])
        self.convblock = SeparableConvBlock(num_channels, num_channels, use_act=False)
        self.upsampler = nn.Sequential(*[SeparableUpsample(num_channels) for _ in range(int(math.log2(scale)))])
        self.final_conv = SeparableConv2d(num_channels, in_channels, kernel_size=9, padding=4)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        initial = self.initial(lr)
        features = self.convblock(self.residual(initial)) + initial
        return (torch.tanh(self.final_conv(self.upsampler(features))) + 1.0) / 2.0


class SwiftSRGANDiscriminator(nn.Module):
    """Eight separable conv blocks (stride 1, 2 alternating), 6x6 average pool, dense 1024; logits (sigmoid in the loss)."""

    def __init__(
        self, in_channels: int = 3, features: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 512, 512)
    ) -> None:
        super().__init__()
        blocks = []
        for index, width in enumerate(features):
            blocks.append(
                SeparableConvBlock(in_channels, width, stride=1 + index % 2, use_bn=index > 0, discriminator=True)
            )
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d((6, 6)),
            nn.Flatten(),
            nn.Linear(features[-1] * 36, 1024),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(1024, 1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(image))


def _swiftsrgan_kwargs(sd: StateDict) -> dict[str, int]:
    return {
        "in_channels": sd["initial.cnn.depthwise.weight"].shape[0],
        "num_channels": sd["initial.cnn.pointwise.weight"].shape[0],
        "num_blocks": count_indices(sd.keys(), "residual."),
        "scale": 2 ** count_indices(sd.keys(), "upsampler."),
    }


def _swiftsrgan_discriminator_kwargs(sd: StateDict) -> dict[str, int]:
    return {"in_channels": sd["blocks.0.cnn.depthwise.weight"].shape[0]}


FAMILIES = (
    ModelFamily(
        "swiftsrgan",
        2021,
        specs=(
            ModelSpec(
                "swiftsrgan_psnr",
                "swiftsrgan",
                SwiftSRGANGenerator,
                "Swift-SRGAN generator pre-trained with MSE",
                "Krishnan & Sahin 2021",
                int8_variant=True,
            ),
            ModelSpec(
                "swiftsrgan",
                "swiftsrgan",
                SwiftSRGANGenerator,
                "Swift-SRGAN (depthwise-separable SRGAN)",
                "Krishnan & Sahin 2021",
                discriminator="swiftsrgan_discriminator",
                int8_variant=True,
            ),
        ),
        recognises=has_keys("initial.cnn.depthwise.weight", "convblock.bn.weight"),
        kwargs_from_weights=_swiftsrgan_kwargs,
        bn_convs={"bn": "cnn"},
        subpixel_tail=SubpixelTail(upsampler="upsampler", last_conv="final_conv", shuffle="ps"),
    ),
    ModelFamily(
        "swiftsrgan_discriminator",
        2021,
        specs=(
            ModelSpec(
                "swiftsrgan_discriminator",
                "swiftsrgan_discriminator",
                SwiftSRGANDiscriminator,
                "Swift-SRGAN discriminator: 8 separable conv blocks, dense 1024",
                "Krishnan & Sahin 2021",
                kind="discriminator",
            ),
        ),
        recognises=has_keys("blocks.0.cnn.depthwise.weight", "classifier.2.weight"),
        kwargs_from_weights=_swiftsrgan_discriminator_kwargs,
    ),
)
