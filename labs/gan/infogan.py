"""InfoGAN (Chen et al.): categorical and continuous codes that the discriminator's Q head must recover.

Maximising the mutual information between codes and samples (its variational lower bound) is
minimising the Q head's code losses: the discriminator step trains Q (and the shared body) on
generated samples of known codes, the generator step trains G to make its codes recoverable.
"""

from __future__ import annotations

import torch
from torch import nn

from labs.gan.discriminators import Critique
from labs.gan.losses import AuxiliaryClassLoss, ContinuousCodeLoss, DiscriminatorLoss, NonSaturatingGeneratorLoss
from labs.gan.metrics import class_accuracy, real_fake_accuracy
from labs.gan.model import GAN, GeneratorInput, NextBatch, frozen, optimizer_step


class InfoGAN(GAN):
    """GAN with ``num_classes`` categorical and ``num_continuous`` continuous latent codes.

    ``categorical_weight`` and ``continuous_weight`` are lambda of the paper (1 for discrete codes,
    smaller for continuous ones so the information term does not swamp the GAN loss).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        categorical_weight: float = 1.0,
        continuous_weight: float = 0.1,
        **settings,
    ) -> None:
        super().__init__(generator, discriminator, **settings)
        self.categorical_weight = categorical_weight
        self.continuous_weight = continuous_weight
        self.adversarial_loss = DiscriminatorLoss()
        self.generator_loss = NonSaturatingGeneratorLoss()
        self.categorical_loss = AuxiliaryClassLoss()
        self.continuous_loss = ContinuousCodeLoss()

    def information_loss(self, critique: Critique, codes: GeneratorInput) -> torch.Tensor:
        """The weighted negative lower bound on I(codes; G(z, codes)), up to the codes' constant entropy."""
        loss = self.categorical_weight * self.categorical_loss(critique.class_logits, codes.classes)
        if codes.continuous is not None:
            loss = loss + self.continuous_weight * self.continuous_loss(critique.continuous, codes.continuous)
        return loss

    def train_step(self, next_batch: NextBatch) -> dict[str, float]:
        real = next_batch(self.batch_size).samples
        with torch.no_grad():
            fake_input = self.sample_input(len(real))
            fake = self.generator(fake_input.vector)
        real_out, fake_out = self.discriminator(real), self.discriminator(fake)
        d_loss = self.adversarial_loss(real_out.score, fake_out.score)
        d_information = self.information_loss(fake_out, fake_input)
        optimizer_step(self.d_optimizer, d_loss + d_information)

        with frozen(self.discriminator):
            g_input = self.sample_input(self.batch_size)
            g_out = self.discriminator(self.generator(g_input.vector))
            information = self.information_loss(g_out, g_input)
            g_loss = self.generator_loss(g_out.score) + information
            optimizer_step(self.g_optimizer, g_loss)

        return {
            "g_loss": g_loss.item(),
            "d_loss": d_loss.item(),
            "d_accuracy": real_fake_accuracy(real_out.score, fake_out.score),
            "information_loss": information.item(),
            "code_accuracy": class_accuracy(g_out.known_class_logits, g_input.known_classes),
        }
