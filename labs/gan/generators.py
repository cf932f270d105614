"""Generators: the thesis's 1-D and sine-wave generators, and the report's DCGAN generator.

Each constructor takes the source's hyper-parameters as keyword arguments with its defaults.
Images come out float NCHW in [-1, 1] (tanh).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labs.gan.errors import GanSettingError
from labs.gan.layers import HiddenLayers, keras_batch_norm


class LinearGenerator(nn.Module):
    """G(z) = a z + b (thesis 4.3), started at a = 1, b = 0 like the thesis's variables.

    With z ~ N(0, 1) it can represent exactly the normals N(b, |a|), so learning N(2.5, 3.25)
    means reaching a = +-3.25 and b = 2.5. (The thesis's text swaps them, "a = mu, b = sigma";
    its code multiplies by ``stddev`` and adds ``mean``, as here.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.shift = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, 1) noise -> (N, 1) samples."""
        return z * self.scale + self.shift


class MLPGenerator(nn.Module):
    """The thesis's generator for the mixture (4.4): hidden ReLU layers, optional dropout, one linear output."""

    def __init__(
        self, latent_dim: int = 1, hidden_features: int = 256, hidden_layers: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.hidden = HiddenLayers(latent_dim, hidden_features, hidden_layers, dropout)
        self.out = nn.Linear(hidden_features, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> (N, 1) samples."""
        return self.out(self.hidden(z))


class SineGenerator(nn.Module):
    """The thesis's image generator (4.5): one dense layer and two transposed convolutions, 50x50 out.

    z (N, latent_dim) -> dense -> width x 13 x 13 -> BN, ReLU -> ConvT 4x4 stride 2 -> 25x25 x width/2
    -> BN, ReLU -> ConvT 4x4 stride 2 -> 50x50 -> tanh. The thesis does not give the widths, kernels
    or noise size. Two choices are not the thesis's, both from the DCGAN recipe:

    - batch norm after the dense layer and the first transposed convolution (Radford et al.):
      without it the generator never caught up with the discriminator (accuracy 1.0 throughout);
    - 4x4 kernels, a multiple of the stride, so every output pixel sums the same number of kernel
      taps (Odena et al. 2016, "Deconvolution and checkerboard artifacts"); the 3x3 kernel of
      13 -> 25 drew a stride-2 checkerboard. Padding 2 with one extra output row/column (``output_padding``)
      gives 25 from 13 with the 4x4 kernel.
    """

    def __init__(self, latent_dim: int = 16, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.dense = nn.Linear(latent_dim, width * 13 * 13)
        self.dense_norm = nn.BatchNorm2d(width)
        self.up25 = nn.ConvTranspose2d(width, width // 2, kernel_size=4, stride=2, padding=2, output_padding=1)
        self.up25_norm = nn.BatchNorm2d(width // 2)
        self.up50 = nn.ConvTranspose2d(width // 2, 1, kernel_size=4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) noise in [-1, 1] -> images (N, 1, 50, 50) in [-1, 1]."""
        x = F.relu(self.dense_norm(self.dense(z).view(-1, self.width, 13, 13)))
        x = F.relu(self.up25_norm(self.up25(x)))
        return torch.tanh(self.up50(x))


def upsampling_count(image_size: int) -> int:
    """How many x2 up-samplings lead to ``image_size`` from the smallest base of at least 7 pixels.

    28 -> 2 (7x7 base, Keras-GAN's MNIST generator); 64 -> 3 (8x8 base, the report's generator).
    """
    count = 0
    while image_size % 2 == 0 and image_size // 2 >= 7:
        image_size //= 2
        count += 1
    return count


class DCGANGenerator(nn.Module):
    """The CapsNet-GAN report's generator (table 6.1.1), used by every image GAN here.

    Dense(width * base^2) + ReLU -> reshape -> [BN -> UpSampling x2 -> Conv 3x3 -> ReLU] per stage,
    halving the channels from ``width`` -> BN -> Conv 3x3 to ``channels`` -> tanh. For 64x64 RGB
    that is 8x8x128 -> 16x16x128 -> 32x32x64 -> 64x64x32 -> 64x64x3 (1,068,803 trainable parameters
    with input_dim 100, as the report counts); for MNIST 7x7x128 -> 14x14x128 -> 28x28x64 -> 28x28x1.
    ``input_dim`` is the noise size plus any one-hot class or code the GAN appends (ACGAN, InfoGAN).
    """

    def __init__(self, input_dim: int = 100, image_shape: tuple[int, int, int] = (1, 28, 28), width: int = 128) -> None:
        super().__init__()
        channels, height, image_width = image_shape
        if height != image_width:
            raise GanSettingError(f"the DCGAN generator makes square images, not {height}x{image_width}")
        stages = upsampling_count(height)
        self.base_size = height // 2**stages
        self.width = width
        self.dense = nn.Linear(input_dim, width * self.base_size**2)
        layers: list[nn.Module] = []
        in_channels = width
        for stage in range(stages):
            out_channels = max(width // 2**stage, 1)
            layers += [
                keras_batch_norm(in_channels),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(in_channels, out_channels, 3, padding=1),
                nn.ReLU(),
            ]
            in_channels = out_channels
        layers += [keras_batch_norm(in_channels), nn.Conv2d(in_channels, channels, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, input_dim) -> images (N, C, H, W) in [-1, 1]."""
        x = F.relu(self.dense(z)).view(-1, self.width, self.base_size, self.base_size)
        return self.body(x)
