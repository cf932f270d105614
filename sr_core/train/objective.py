"""What a run minimises, assembled from its configuration: the generator's loss terms and the GAN loss."""

from __future__ import annotations

import functools
import operator

import torch
from torch import nn

from sr_core.losses import (
    GANLoss,
    LinePhaseLoss,
    LowFrequencyLoss,
    PerceptualLoss,
    PhaseMeanLoss,
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
        self.content_shift = config.content_shift
        self.total_variation = TotalVariationLoss() if config.tv_weight else None
        self.lowpass = LowFrequencyLoss() if config.lowpass_weight else None
        self.phase = PhaseMeanLoss() if config.phase_weight else None
        self.line_phase = LinePhaseLoss() if config.line_phase_weight else None
        weights = {
            "pixel": (self.pixel is not None, config.pixel_weight),
            "content": (self.content is not None, config.content_weight),
            "tv": (self.total_variation is not None, config.tv_weight),
            "lowpass": (self.lowpass is not None, config.lowpass_weight),
            "phase": (self.phase is not None, config.phase_weight),
            "line_phase": (self.line_phase is not None, config.line_phase_weight),
            "adversarial": (config.adversarial != "none", config.adversarial_weight),
        }
        self.weights = {name: weight for name, (used, weight) in weights.items() if used}

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = {}
        if self.pixel is not None:
            losses["pixel"] = self.pixel(sr, hr)
        if self.content is not None:
            offsets = random_offsets(sr.shape[0], self.content_shift)
            losses["content"] = self.content(
                crops_at(sr, offsets, self.content_shift), crops_at(hr, offsets, self.content_shift)
            )
        if self.total_variation is not None:
            losses["tv"] = self.total_variation(sr)
        if self.lowpass is not None:
            losses["lowpass"] = self.lowpass(sr, hr)
        if self.phase is not None:
            losses["phase"] = self.phase(sr, hr)
        if self.line_phase is not None:
            losses["line_phase"] = self.line_phase(sr, hr)
        return losses

    def total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum the generator minimises."""
        weighted = [self.weights[name] * value for name, value in losses.items()]
        return functools.reduce(operator.add, weighted)


def random_offsets(count: int, shift: int) -> list[tuple[int, int]]:
    """``count`` random (top, left) crop offsets in 0..``shift`` px, drawn from torch's RNG (saved in checkpoints)."""
    return [(top, left) for top, left in torch.randint(0, shift + 1, (count, 2)).tolist()]


def crops_at(batch: torch.Tensor, offsets: list[tuple[int, int]], shift: int) -> torch.Tensor:
    """Each image of ``batch`` cropped by ``shift`` px per axis at its own offset (``shift`` 0: unchanged)."""
    if shift == 0:
        return batch
    height, width = batch.shape[-2] - shift, batch.shape[-1] - shift
    return torch.stack(
        [image[..., top : top + height, left : left + width] for image, (top, left) in zip(batch, offsets)]
    )


def shifted_crops(batch: torch.Tensor, shift: int) -> torch.Tensor:
    """Each image of ``batch`` cropped by ``shift`` px per axis at its own random offset (0: unchanged).

    Why: training crops start on the LR grid, so every strided network that looks at the SR
    output (the discriminator's 3x3 stride-2 convolutions, the feature network's pools) has its
    sampling grid on the same phase of the generator's x4 sub-pixel grid, step after step. Their
    gradients then carry a fixed component at periods of 2 and 4 px, which the sub-pixel
    convolutions learn as stripes, and the discriminator is blind to stripes on its own grid. A
    random offset per image spreads that component over every phase. The content loss crops SR
    and HR at the same offsets (see :class:`GeneratorObjective`); D's real and fake batches each
    get their own.
    """
    return crops_at(batch, random_offsets(batch.shape[0], shift), shift)


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
