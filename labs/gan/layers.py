"""Blocks shared by the GAN networks, written once.

The CapsNet-GAN report and its baselines are Keras models. Two Keras defaults differ from
PyTorch's and are easy to carry over wrongly:

- ``BatchNormalization(momentum=0.8)`` keeps 80% of the running statistics per step, which is
  PyTorch's ``momentum=0.2``; Keras's epsilon is 1e-3. (PyTorch-GAN's ``nn.BatchNorm2d(c, 0.8)``
  passes 0.8 as *eps*, a known bug that blurs every normalised activation.)
- ``LeakyReLU()`` without an argument has slope 0.3, the capsule discriminator's activation;
  the DCGAN baselines pass 0.2 explicitly.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from labs.gan.errors import GanSettingError

KERAS_BN_MOMENTUM = 0.2  # Keras momentum 0.8 (fraction of the old running statistics kept)
KERAS_BN_EPS = 1e-3
KERAS_LEAKY_SLOPE = 0.3
DCGAN_LEAKY_SLOPE = 0.2


def keras_batch_norm(channels: int, dims: int = 2) -> nn.Module:
    """``BatchNormalization(momentum=0.8)`` of Keras over ``channels`` (dims 1: (N, C, L); 2: NCHW)."""
    layer = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return layer(channels, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)


def maybe_batch_norm(channels: int, enabled: bool) -> nn.Module:
    """Keras batch norm, or nothing where a critic must judge each sample alone (WGAN-GP's penalty)."""
    return keras_batch_norm(channels) if enabled else nn.Identity()


def thesis_dense_init(module: nn.Module) -> None:
    """The thesis's 1-D initialisation: weights from a normal truncated at 2 std 0.1, biases 0.1."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(layer.bias, 0.1)


class FeatureBody(nn.Module):
    """A discriminator's feature extractor: flat features of width ``out_features`` for the heads on top."""

    out_features: int


class HiddenLayers(FeatureBody):
    """``hidden_layers`` dense ReLU layers of ``hidden_features`` units, the thesis's 1-D building block.

    ``dropout`` is the probability of zeroing a unit, and it stays on at sampling time: in the
    generator it is a source of noise that shapes the distribution (Goodfellow et al. allow noise
    in the generator's hidden layers), so switching it off in eval mode would sample from a
    different distribution than the one trained. The thesis's TensorFlow code calls
    ``tf.nn.dropout(x, 0.25)``, whose second argument is the *keep* probability: dropout 0.75 here.
    """

    def __init__(
        self, in_features: int, hidden_features: int = 256, hidden_layers: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise GanSettingError(f"dropout must be in [0, 1), not {dropout}")
        sizes = [in_features] + [hidden_features] * hidden_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.dropout = dropout
        self.out_features = hidden_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.relu(layer(x))
            if self.dropout:
                x = F.dropout(x, self.dropout, training=True)
        return x
