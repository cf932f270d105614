"""The capsule discriminator of the CapsNet-GAN report (table 6.1.2; public notebook gusgad/capsule-GAN).

Layer by layer, as the report's Keras model (defaults = the report's sizes):

    Conv 9x9, 256, stride 1, valid  -> LeakyReLU (Keras default slope 0.3) -> BN (Keras momentum 0.8)
    primary capsules: Conv 9x9, 32 maps x 8 dims, stride 2, valid -> reshape to (capsules, 8)
    squash (with an epsilon under the square root) -> BN over the 8 capsule dimensions -> flatten
    u_hat = Dense(160) -> 3 unrolled rounds of  c = softmax(previous); s = LeakyReLU(u_hat * Dense(c))
    (the score head Dense(1) is the shared head of :class:`labs.gan.discriminators.Discriminator`)

For 64x64x3 input that is 56x56x256 -> 24x24x256 = 18432 capsules of 8 -> 160; for MNIST
20x20x256 -> 6x6x256 = 1152 capsules, the CapsNet paper's primary-capsule count.
The "routing" is the report's simplification of dynamic routing into dense layers with softmax
couplings; it is reproduced as published, not replaced with Sabour et al.'s routing-by-agreement.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labs.gan.layers import KERAS_LEAKY_SLOPE, FeatureBody, keras_batch_norm, maybe_batch_norm

SQUASH_EPS = 1e-7  # Keras's K.epsilon(): keeps the gradient finite at the zero vector


def squash(vectors: torch.Tensor, dim: int = -1, eps: float = SQUASH_EPS) -> torch.Tensor:
    """Sabour et al.'s squash: keep each vector's direction, map its length ``n`` to ``n^2 / (1 + n^2)``.

    Long vectors approach length 1 and short ones length 0, so a capsule's length can read as
    the probability that its entity is present. ``eps`` keeps ``1 / |v|`` finite at ``v = 0``.
    """
    squared_norm = vectors.pow(2).sum(dim, keepdim=True)
    return vectors * (squared_norm / (1 + squared_norm) / torch.sqrt(squared_norm + eps))


def capsule_grid_size(image_size: int, kernel_size: int = 9) -> int:
    """Side of the primary-capsule grid: a valid 9x9 conv, then a valid 9x9 conv with stride 2."""
    return (image_size - kernel_size + 1 - kernel_size) // 2 + 1


class PrimaryCapsules(nn.Module):
    """A 9x9 stride-2 convolution whose channels are read as ``capsule_maps`` groups of ``capsule_dim``.

    Output (N, capsules, capsule_dim), squashed. Channels are grouped the way Keras's
    ``Reshape([-1, 8])`` groups an NHWC tensor: eight consecutive channels at one position.
    """

    def __init__(self, in_channels: int, capsule_maps: int = 32, capsule_dim: int = 8, kernel_size: int = 9) -> None:
        super().__init__()
        self.capsule_dim = capsule_dim
        self.conv = nn.Conv2d(in_channels, capsule_maps * capsule_dim, kernel_size, stride=2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        channels_last = self.conv(features).permute(0, 2, 3, 1)
        return squash(channels_last.reshape(len(features), -1, self.capsule_dim))


class DenseRouting(nn.Module):
    """The report's unrolled routing: u_hat = Dense(units)(x), then ``routings`` rounds of softmax couplings.

    Each round turns the previous output into coupling weights (softmax over the units), mixes
    them with its own Dense layer, gates u_hat with the result and applies a LeakyReLU (the
    report replaces the squash here: squashing these outputs "creates severe blurry artifacts").
    """

    def __init__(
        self, in_features: int, units: int = 160, routings: int = 3, negative_slope: float = KERAS_LEAKY_SLOPE
    ) -> None:
        super().__init__()
        self.u_hat = nn.Linear(in_features, units)
        nn.init.kaiming_normal_(self.u_hat.weight)  # Keras's he_normal, as the notebook sets
        nn.init.zeros_(self.u_hat.bias)
        self.couplings = nn.ModuleList(nn.Linear(units, units) for _ in range(routings))
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u_hat = self.u_hat(x)
        s = u_hat
        for coupling in self.couplings:
            s = F.leaky_relu(u_hat * coupling(torch.softmax(s, dim=1)), self.negative_slope)
        return s


class CapsuleBody(FeatureBody):
    """The capsule discriminator's body, from an image (N, C, H, W) to the routed vector (N, routing_units).

    ``batch_norm=False`` drops both batch norms, for WGAN-GP (the penalty needs per-sample critics).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        conv_channels: int = 256,
        capsule_maps: int = 32,
        capsule_dim: int = 8,
        routing_units: int = 160,
        routings: int = 3,
        negative_slope: float = KERAS_LEAKY_SLOPE,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.conv = nn.Conv2d(channels, conv_channels, 9)
        self.negative_slope = negative_slope
        self.conv_norm = maybe_batch_norm(conv_channels, batch_norm)
        self.primary = PrimaryCapsules(conv_channels, capsule_maps, capsule_dim)
        self.capsule_norm = keras_batch_norm(capsule_dim, dims=1) if batch_norm else nn.Identity()
        capsules = capsule_grid_size(height) * capsule_grid_size(width) * capsule_maps
        self.routing = DenseRouting(capsules * capsule_dim, routing_units, routings, negative_slope)
        self.out_features = routing_units

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.conv_norm(F.leaky_relu(self.conv(images), self.negative_slope))
        capsules = self.primary(features)
        normalised = self.capsule_norm(capsules.transpose(1, 2)).transpose(1, 2)
        return self.routing(normalised.flatten(1))
