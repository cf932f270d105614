"""What a run minimises, assembled from its configuration: the generator's loss terms and the GAN loss."""

from __future__ import annotations

import torch
from torch import nn

from sr_core.losses import (
    GANLoss,
    LowFrequencyLoss,
    PerceptualLoss,
    PixelLoss,
    RelativisticAverageGANLoss,
    TotalVariationLoss,
    mobilenet_content_loss,
    vgg_loss_features,
)
from sr_core.train.presets import TrainConfig


class GeneratorObjective(nn.Module):
    """The generator's non-adversarial terms: ``forward(sr, hr)`` -> {term name: unweighted loss}.

    ``weights`` holds the weight of each term the run uses, in log order, the adversarial one
    included (the loop computes that term, since it needs the discriminator). ``features`` says which feature network the
    content loss uses and where its weights came from ("none" without a content loss), for
    the run's metadata.
    """

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.pixel = PixelLoss(config.pixel_criterion) if config.pixel_weight else None
        self.content, self.features = _content_loss(config)
        self.total_variation = TotalVariationLoss() if config.tv_weight else None
        self.lowpass = LowFrequencyLoss() if config.lowpass_weight else None
        weights = {
            "pixel": (self.pixel is not None, config.pixel_weight),
            "content": (self.content is not None, config.content_weight),
            "tv": (self.total_variation is not None, config.tv_weight),
            "lowpass": (self.lowpass is not None, config.lowpass_weight),
            "adversarial": (config.adversarial != "none", config.adversarial_weight),
        }
        self.weights = {name: weight for name, (used, weight) in weights.items() if used}

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = {}
        if self.pixel is not None:
            losses["pixel"] = self.pixel(sr, hr)
        if self.content is not None:
            losses["content"] = self.content(sr, hr)
        if self.total_variation is not None:
            losses["tv"] = self.total_variation(sr)
        if self.lowpass is not None:
            losses["lowpass"] = self.lowpass(sr, hr)
        return losses

    def total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum the generator minimises."""
        return sum(self.weights[name] * value for name, value in losses.items())


def _content_loss(config: TrainConfig) -> tuple[nn.Module | None, str]:
    if config.content_loss == "none":
        return None, "none"
    if config.content_loss == "vgg":
        vgg_features, conv_index, source = vgg_loss_features(config.features)
        loss = PerceptualLoss(
            vgg_features,
            layer=config.vgg_layer,
            before_activation=config.vgg_before_activation,
            feature_scale=config.feature_scale,
            criterion=config.content_criterion,
            conv_index=conv_index,
        )
        return loss, source
    return mobilenet_content_loss(config.features, mode=config.mobilenet_mode)


def adversarial_loss(config: TrainConfig) -> GANLoss | RelativisticAverageGANLoss | None:
    """The GAN loss of the run, or None for a run without a discriminator."""
    if config.adversarial == "gan":
        return GANLoss(config.gan_form)
    if config.adversarial == "ragan":
        return RelativisticAverageGANLoss()
    return None
