"""Wasserstein GANs: the critic estimates W1, kept Lipschitz by weight clipping (Arjovsky et al.)
or by a gradient penalty (WGAN-GP, Gulrajani et al.). ``n_critic`` critic steps per generator step.
"""

from __future__ import annotations

import torch
from torch import nn

from labs.gan.errors import GanSettingError
from labs.gan.losses import CriticGeneratorLoss, CriticLoss, GradientPenalty
from labs.gan.metrics import critic_accuracy
from labs.gan.model import GAN, NextBatch, frozen, optimizer_step


class WassersteinGAN(GAN):
    """WGAN with ``clip_value`` (clip every critic weight to [-c, c] after each critic step)
    or WGAN-GP with ``gp_weight`` (lambda of the gradient penalty); exactly one of the two."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        n_critic: int = 5,
        clip_value: float | None = None,
        gp_weight: float | None = None,
        **settings,
    ) -> None:
        if (clip_value is None) == (gp_weight is None):
            raise GanSettingError("a WGAN needs exactly one of clip_value (WGAN) and gp_weight (WGAN-GP)")
        if n_critic < 1:
            raise GanSettingError(f"n_critic must be at least 1, not {n_critic}")
        super().__init__(generator, discriminator, **settings)
        self.n_critic = n_critic
        self.clip_value = clip_value
        self.critic_loss = CriticLoss()
        self.generator_loss = CriticGeneratorLoss()
        self.gradient_penalty = GradientPenalty(gp_weight) if gp_weight is not None else None

    def _critic(self, samples: torch.Tensor) -> torch.Tensor:
        return self.discriminator(samples).score

    def train_step(self, next_batch: NextBatch) -> dict[str, float]:
        for _ in range(self.n_critic):
            real = next_batch(self.batch_size).samples
            with torch.no_grad():
                fake = self.generator(self.sample_input(len(real)).vector)
            real_score, fake_score = self._critic(real), self._critic(fake)
            d_loss = self.critic_loss(real_score, fake_score)
            if self.gradient_penalty is not None:
                d_loss = d_loss + self.gradient_penalty(self._critic, real, fake)
            optimizer_step(self.d_optimizer, d_loss)
            if self.clip_value is not None:
                with torch.no_grad():
                    for parameter in self.discriminator.parameters():
                        parameter.clamp_(-self.clip_value, self.clip_value)

        with frozen(self.discriminator):
            generated = self.generator(self.sample_input(self.batch_size).vector)
            g_loss = self.generator_loss(self._critic(generated))
            optimizer_step(self.g_optimizer, g_loss)

        return {
            "g_loss": g_loss.item(),
            "d_loss": d_loss.item(),
            "d_accuracy": critic_accuracy(real_score, fake_score),
            "wasserstein": (real_score.mean() - fake_score.mean()).item(),
        }
