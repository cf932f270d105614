"""The generator of ZS-CGAN: conditional batch norm carries the class (Miyato & Koyama; de Vries et al.).

Layout after GDFQ's generator (Xu et al. 2020), the usual generator of data-free quantization:
a linear projection to a 4x smaller map, two nearest x2 upsamplings each followed by a 3x3
conv, a 3x3 conv to the image channels and tanh. Every batch norm is conditional: its scale and
shift are looked up per class, which is how the paper conditions its U-Net. With one class it
is an ordinary BN generator, the unconditional generator of the SR side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_core.errors import QuantSettingError


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine part, then a per-class scale (init 1) and shift (init 0)."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``x`` (N, C, H, W), ``labels`` int64 (N,) class indices."""
        return self.norm(x) * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class Generator(nn.Module):
    """(z (N, latent_dim), labels (N,)) -> images (N, out_channels, size, size) in ``output_range``.

    ``size`` must be a multiple of 4 (two x2 upsamplings); ``width`` is the channel count after
    the first upsampling (the projection has twice as many, the last conv half as many).
    """

    def __init__(
        self,
        num_classes: int = 10,
        latent_dim: int = 64,
        out_channels: int = 1,
        size: int = 28,
        width: int = 64,
        output_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        if size % 4:
            raise QuantSettingError(
                f"the generator upsamples x4, so its image size must be a multiple of 4, not {size}"
            )
        self.num_classes, self.latent_dim, self.base = num_classes, latent_dim, size // 4
        self.output_range = output_range
        self.project = nn.Linear(latent_dim, 2 * width * self.base**2)
        self.norm0 = ConditionalBatchNorm2d(2 * width, num_classes)
        self.conv1 = nn.Conv2d(2 * width, width, 3, padding=1)
        self.norm1 = ConditionalBatchNorm2d(width, num_classes)
        self.conv2 = nn.Conv2d(width, width // 2, 3, padding=1)
        self.norm2 = ConditionalBatchNorm2d(width // 2, num_classes)
        self.conv_out = nn.Conv2d(width // 2, out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(len(z), -1, self.base, self.base)
        x = F.interpolate(self.norm0(x, labels), scale_factor=2, mode="nearest")
        x = F.leaky_relu(self.norm1(self.conv1(x), labels), 0.2)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.leaky_relu(self.norm2(self.conv2(x), labels), 0.2)
        low, high = self.output_range
        return low + (high - low) * (torch.tanh(self.conv_out(x)) + 1.0) / 2.0

    def sample(
        self, count: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` images and the labels they were asked for (uniform random classes unless given)."""
        device = self.project.weight.device
        if labels is None:
            labels = torch.randint(self.num_classes, (count,), generator=generator).to(device)
        z = torch.randn(count, self.latent_dim, generator=generator).to(device)
        return self(z, labels), labels
