"""SRCNN (Dong et al.; thesis ch. 2): patch extraction, non-linear mapping, reconstruction.

The network works on a bicubic-upsampled image, so the module upsamples its LR input itself
(with PIL's bicubic, the protocol's operator) and every model in the zoo shares one contract:
LR RGB in [0, 1] -> SR RGB in [0, 1], x``scale``. With ``num_channels=1`` it restores only the
luminance, as in the paper and the released Y-channel checkpoints; chroma stays bicubic.
"""

from __future__ import annotations

import torch
from torch import nn

from sr_core.models.blocks import pil_bicubic_resize, rgb_to_ycbcr, same_padding, ycbcr_to_rgb
from sr_core.models.family import ModelFamily, ModelSpec, StateDict, has_keys


class SRCNN(nn.Module):
    """Three convolutions f1-f2-f3 with n1 and n2 filters; ``9-5-5`` and ``9-3-5`` are the paper's variants."""

    def __init__(
        self,
        num_channels: int = 1,
        n1: int = 64,
        n2: int = 32,
        f1: int = 9,
        f2: int = 5,
        f3: int = 5,
        scale: int = 4,
    ) -> None:
        super().__init__()
        if num_channels not in (1, 3):
            raise ValueError("SRCNN restores either the Y channel (1) or RGB (3)")
        self.num_channels = num_channels
        self.scale = scale
        self.conv1 = nn.Conv2d(num_channels, n1, f1, padding=same_padding(f1))
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=same_padding(f2))
        self.conv3 = nn.Conv2d(n2, num_channels, f3, padding=same_padding(f3))
        self.relu = nn.ReLU(inplace=True)

    def restore(self, upsampled: torch.Tensor) -> torch.Tensor:
        """The three-layer mapping F(Y) on an already upsampled 1- or 3-channel image."""
        features = self.relu(self.conv1(upsampled))
        features = self.relu(self.conv2(features))
        return self.conv3(features)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        upsampled = pil_bicubic_resize(lr, lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)
        if self.num_channels == 3:
            return self.restore(upsampled)
        ycbcr = rgb_to_ycbcr(upsampled)
        luma = self.restore(ycbcr[:, :1])
        return ycbcr_to_rgb(torch.cat([luma, ycbcr[:, 1:]], dim=1))


def _srcnn_kwargs(sd: StateDict) -> dict[str, int]:
    return {
        "num_channels": sd["conv1.weight"].shape[1],
        "n1": sd["conv1.weight"].shape[0],
        "n2": sd["conv2.weight"].shape[0],
        "f1": sd["conv1.weight"].shape[-1],
        "f2": sd["conv2.weight"].shape[-1],
        "f3": sd["conv3.weight"].shape[-1],
    }


FAMILIES = (
    ModelFamily(
        "srcnn",
        2014,
        specs=(
            ModelSpec(
                "srcnn",
                "srcnn",
                SRCNN,
                "SRCNN 9-5-5, Y channel, n1=64 n2=32",
                "Dong et al. 2014; thesis ch. 2",
                default_kwargs={"f2": 5},
            ),
            ModelSpec(
                "srcnn_935",
                "srcnn",
                SRCNN,
                "SRCNN 9-3-5, Y channel, n1=64 n2=32",
                "Dong et al. 2014; thesis ch. 2",
                default_kwargs={"f2": 3},
            ),
        ),
        recognises=has_keys("conv1.weight", "conv2.weight", "conv3.weight"),
        kwargs_from_weights=_srcnn_kwargs,
    ),
)
