"""Discriminators: a feature body (one per family) under shared output heads.

Every discriminator is :class:`Discriminator`: a body maps a sample to a feature vector, and
heads read that vector: the real/fake score (a logit, or a critic value for WGAN), and where a
GAN needs them the class logits (ACGAN's auxiliary classifier, InfoGAN's categorical code) and
the continuous code estimates (InfoGAN's Q network). So the classical CNN and the capsule body
plug into every GAN the same way, which is what comparing them pair by pair needs.

Heads output logits, never probabilities: the losses apply the sigmoid or the softmax
themselves (a softmax before ``cross_entropy`` would apply it twice, a known bug of ACGAN and
InfoGAN references).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from labs.gan.errors import GanSettingError
from labs.gan.layers import DCGAN_LEAKY_SLOPE, FeatureBody, HiddenLayers, maybe_batch_norm


class Critique(NamedTuple):
    """What a discriminator says about a batch of N samples.

    ``score`` (N,): real/fake logit (or critic value); ``class_logits`` (N, classes) or None;
    ``continuous`` (N, codes) estimated continuous codes, or None.
    """

    score: torch.Tensor
    class_logits: torch.Tensor | None = None
    continuous: torch.Tensor | None = None

    @property
    def known_class_logits(self) -> torch.Tensor:
        """``class_logits`` of a discriminator built with a class head (ACGAN, InfoGAN's categorical code)."""
        if self.class_logits is None:
            raise GanSettingError("this discriminator has no class head")
        return self.class_logits


class Discriminator(nn.Module):
    """A feature ``body`` (with an ``out_features`` attribute) under the real/fake head and optional heads."""

    def __init__(self, body: FeatureBody, num_classes: int = 0, num_continuous: int = 0) -> None:
        super().__init__()
        self.body = body
        self.score = nn.Linear(body.out_features, 1)
        self.classes = nn.Linear(body.out_features, num_classes) if num_classes else None
        self.continuous = nn.Linear(body.out_features, num_continuous) if num_continuous else None

    def forward(self, x: torch.Tensor) -> Critique:
        features = self.body(x)
        return Critique(
            self.score(features).squeeze(1),
            None if self.classes is None else self.classes(features),
            None if self.continuous is None else self.continuous(features),
        )


def flat_size(body: nn.Module, sample_shape: tuple[int, ...]) -> int:
    """The length of ``body``'s flattened output for one sample of ``sample_shape`` (found by a dry run)."""
    was_training = body.training
    body.eval()
    with torch.no_grad():
        size = body(torch.zeros(1, *sample_shape)).flatten(1).shape[1]
    body.train(was_training)
    return int(size)


class MLPBody(HiddenLayers):
    """The thesis's 1-D discriminator (4.3): ``hidden_layers`` dense ReLU layers (64 units in its code)."""

    def __init__(self, in_features: int = 1, hidden_features: int = 64, hidden_layers: int = 3) -> None:
        super().__init__(in_features, hidden_features, hidden_layers)


class SineConvBody(FeatureBody):
    """The thesis's image discriminator (4.5): two convolutions (the one dense layer is the score head).

    50x50 -> Conv 5x5 stride 2 -> 25x25xwidth -> LeakyReLU 0.2 -> Conv 5x5 stride 2 -> 13x13x2width
    -> BN -> LeakyReLU 0.2. The batch norm is not the thesis's but DCGAN's (every convolution but
    the first): without it this discriminator separated real waves from generated ones perfectly
    within 200 steps and stayed there, while with it the generator drew sine curves by step 800.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 50, 50), width: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 5, stride=2, padding=2),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Conv2d(width, 2 * width, 5, stride=2, padding=2),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Flatten(),
        )
        self.out_features = flat_size(self.layers, image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvBody(FeatureBody):
    """The classical CNN discriminator of the report's baselines (Keras-GAN's DCGAN discriminator).

    Conv 3x3/2 (width) -> LReLU 0.2 -> Dropout 0.25 -> Conv 3x3/2 (2 width) -> ZeroPad right/bottom
    -> BN -> LReLU -> Dropout -> Conv 3x3/2 (4 width) -> BN -> LReLU -> Dropout -> Conv 3x3/1
    (8 width) -> BN -> LReLU -> Dropout -> flatten. For MNIST: 14x14x32, 8x8x64, 4x4x128, 4x4x256.
    ``batch_norm=False`` drops the batch norms for WGAN-GP, whose penalty needs a critic that
    judges each sample on its own (Gulrajani et al., sec. 4).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        width: int = 32,
        dropout: float = 0.25,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(4)]
        self.layers = nn.Sequential(
            nn.Conv2d(image_shape[0], widths[0], 3, stride=2, padding=1),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Dropout(dropout),
            nn.Conv2d(widths[0], widths[1], 3, stride=2, padding=1),
            nn.ZeroPad2d((0, 1, 0, 1)),
            maybe_batch_norm(widths[1], batch_norm),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Dropout(dropout),
            nn.Conv2d(widths[1], widths[2], 3, stride=2, padding=1),
            maybe_batch_norm(widths[2], batch_norm),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Dropout(dropout),
            nn.Conv2d(widths[2], widths[3], 3, stride=1, padding=1),
            maybe_batch_norm(widths[3], batch_norm),
            nn.LeakyReLU(DCGAN_LEAKY_SLOPE),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.out_features = flat_size(self.layers, image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
