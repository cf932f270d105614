"""ESRGAN's generator, RRDBNet (Wang et al.; thesis ch. 6).

Residual-in-Residual Dense Blocks without batch norm, residual scaling beta = 0.2, and
nearest-neighbour + conv upsampling. Key names follow BasicSR (``conv_first``,
``body.{i}.rdb{j}.conv{k}``, ``conv_body``, ``conv_up1/2``, ``conv_hr``, ``conv_last``);
the key layouts below map the other released checkpoints onto them.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import torch
from torch import nn
from torch.nn import functional as F

from sr_core.models.blocks import default_init_weights
from sr_core.models.family import (
    KeyLayout,
    ModelFamily,
    ModelSpec,
    RenameRule,
    StateDict,
    count_indices,
    has_keys,
    rename_rules,
)

RESIDUAL_SCALE = 0.2


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; each sees the block input and all earlier outputs."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, padding=1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        default_init_weights(self, scale=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, dim=1))))
        return x + RESIDUAL_SCALE * self.conv5(torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Three residual dense blocks inside one more scaled residual connection."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """LR RGB in [0, 1] -> SR RGB x4. The paper's model: 23 blocks, nf=64, gc=32 (16,697,987 parameters)."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        scale: int = 4,
    ) -> None:
        super().__init__()
        if scale != 4:
            raise ValueError("RRDBNet here is the x4 model (two nearest x2 + conv stages)")
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.conv_first(lr)
        features = features + self.conv_body(self.body(features))
        for conv_up in (self.conv_up1, self.conv_up2):
            features = self.lrelu(conv_up(F.interpolate(features, scale_factor=2.0, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(features)))


def _rrdbnet_kwargs(sd: StateDict) -> dict[str, int]:
    return {
        "num_in_ch": sd["conv_first.weight"].shape[1],
        "num_out_ch": sd["conv_last.weight"].shape[0],
        "num_feat": sd["conv_first.weight"].shape[0],
        "num_block": count_indices(sd.keys(), "body."),
        "num_grow_ch": sd["body.0.rdb1.conv1.weight"].shape[0],
    }


def _is_xinntao_esrgan(keys: Collection[str]) -> bool:
    """xinntao's ``RRDB_ESRGAN_x4.pth`` / ``RRDB_PSNR_x4.pth`` (ESRGAN repo, 2019 "new arch")."""
    return any(key.startswith("RRDB_trunk.") for key in keys)


def _xinntao_esrgan_rules(keys: Collection[str]) -> tuple[RenameRule, ...]:
    return rename_rules(
        (r"^RRDB_trunk\.(\d+)\.RDB(\d)\.", r"body.\1.rdb\2."),
        (r"^trunk_conv\.", "conv_body."),
        (r"^upconv1\.", "conv_up1."),
        (r"^upconv2\.", "conv_up2."),
        (r"^HRconv\.", "conv_hr."),
    )


_OLD_ARCH_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB\d\.")


def _is_old_arch_esrgan(keys: Collection[str]) -> bool:
    """The pre-2019 ESRGAN checkpoints: one ``nn.Sequential`` named ``model``."""
    return any(_OLD_ARCH_BLOCK.match(key) for key in keys)


def _old_arch_esrgan_rules(keys: Collection[str]) -> tuple[RenameRule, ...]:
    num_block = len({match.group(1) for key in keys if (match := _OLD_ARCH_BLOCK.match(key))})
    return rename_rules(
        (r"^model\.0\.", "conv_first."),
        (r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.", r"body.\1.rdb\2.conv\3."),
        (rf"^model\.1\.sub\.{num_block}\.", "conv_body."),
        (r"^model\.3\.", "conv_up1."),
        (r"^model\.6\.", "conv_up2."),
        (r"^model\.8\.", "conv_hr."),
        (r"^model\.10\.", "conv_last."),
    )


FAMILIES = (
    ModelFamily(
        "rrdbnet",
        2018,
        specs=(
            ModelSpec(
                "esrgan_psnr",
                "rrdbnet",
                RRDBNet,
                "ESRGAN's PSNR-oriented RRDBNet (L1)",
                "Wang et al. 2018; thesis ch. 6",
            ),
            ModelSpec(
                "esrgan",
                "rrdbnet",
                RRDBNet,
                "ESRGAN (RRDBNet, relativistic GAN + VGG54 before activation)",
                "Wang et al. 2018; thesis ch. 6",
                discriminator="esrgan_discriminator",
            ),
        ),
        recognises=has_keys("conv_first.weight", "body.0.rdb1.conv1.weight"),
        kwargs_from_weights=_rrdbnet_kwargs,
        key_layouts=(
            KeyLayout("esrgan_xinntao", _is_xinntao_esrgan, _xinntao_esrgan_rules),
            KeyLayout("esrgan_old_arch", _is_old_arch_esrgan, _old_arch_esrgan_rules),
        ),
    ),
)
