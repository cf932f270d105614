"""Goodfellow et al.'s GAN: k discriminator steps per generator step (thesis ch. 3, algorithm 1).

The same algorithm trains the thesis's 1-D and sine-wave experiments and DCGAN, which is
Goodfellow's algorithm with convolutional networks and k = 1.
"""

from __future__ import annotations

import torch
from torch import nn

from labs.gan.errors import GanSettingError
from labs.gan.losses import DiscriminatorLoss, MinimaxGeneratorLoss, NonSaturatingGeneratorLoss
from labs.gan.metrics import real_fake_accuracy
from labs.gan.model import GAN, NextBatch, frozen, optimizer_step


class GoodfellowGAN(GAN):
    """Minibatch SGD on V(D, G): ``k`` discriminator ascents, then one generator descent.

    ``minimax=True`` descends log(1 - D(G(z))) as the algorithm is written; the default is the
    non-saturating -log D(G(z)) that the thesis's code (and DCGAN) actually use.
    ``instance_noise`` is the std of Gaussian noise added to every sample D judges, real and
    generated (Sonderby et al. 2016): with binary data (sine waves) the real samples are exactly
    -1 or 1, which no tanh output reaches, so an unblurred D wins on pixel values alone and the
    generator gets no useful gradient. Noise makes the two distributions overlap; the blurred
    distributions are equal only if the originals are, so the optimum does not move.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        k: int = 1,
        minimax: bool = False,
        instance_noise: float = 0.0,
        **settings,
    ) -> None:
        if k < 1:
            raise GanSettingError(f"k (discriminator steps per generator step) must be at least 1, not {k}")
        if instance_noise < 0:
            raise GanSettingError(f"instance noise is a standard deviation, 0 or more, not {instance_noise}")
        super().__init__(generator, discriminator, **settings)
        self.k = k
        self.instance_noise = instance_noise
        self.discriminator_loss = DiscriminatorLoss()
        self.generator_loss = MinimaxGeneratorLoss() if minimax else NonSaturatingGeneratorLoss()

    def train_step(self, next_batch: NextBatch) -> dict[str, float]:
        for _ in range(self.k):
            real = next_batch(self.batch_size).samples
            with torch.no_grad():
                fake = self.generator(self.sample_input(len(real)).vector)
            real_score, fake_score = self._judge(real), self._judge(fake)
            d_loss = self.discriminator_loss(real_score, fake_score)
            optimizer_step(self.d_optimizer, d_loss)

        with frozen(self.discriminator):
            generated = self.generator(self.sample_input(self.batch_size).vector)
            g_loss = self.generator_loss(self._judge(generated))
            optimizer_step(self.g_optimizer, g_loss)

        return {
            "g_loss": g_loss.item(),
            "d_loss": d_loss.item(),
            "d_accuracy": real_fake_accuracy(real_score, fake_score),
            "d_real": torch.sigmoid(real_score).mean().item(),
            "d_fake": torch.sigmoid(fake_score).mean().item(),
        }

    def _judge(self, samples: torch.Tensor) -> torch.Tensor:
        """D's score (logits) of ``samples`` seen through the instance noise."""
        if self.instance_noise:
            samples = samples + self.instance_noise * torch.randn_like(samples)
        return self.discriminator(samples).score
