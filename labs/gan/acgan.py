"""ACGAN (Odena et al.): the generator draws a requested class; the discriminator also classifies.

Both networks are trained on the real/fake loss plus the class cross-entropy, on real images
with their labels and on generated images with the labels they were asked for.
"""

from __future__ import annotations

import torch
from torch import nn

from labs.gan.errors import GanDataError
from labs.gan.losses import AuxiliaryClassLoss, DiscriminatorLoss, NonSaturatingGeneratorLoss
from labs.gan.metrics import class_accuracy, real_fake_accuracy
from labs.gan.model import GAN, NextBatch, frozen, optimizer_step


class ACGAN(GAN):
    """Auxiliary-classifier GAN over ``num_classes`` classes (10 for MNIST); needs labelled data."""

    classes_are_labels = True

    def __init__(self, generator: nn.Module, discriminator: nn.Module, **settings) -> None:
        super().__init__(generator, discriminator, **settings)
        self.adversarial_loss = DiscriminatorLoss()
        self.generator_loss = NonSaturatingGeneratorLoss()
        self.class_loss = AuxiliaryClassLoss()

    def train_step(self, next_batch: NextBatch) -> dict[str, float]:
        real, labels = next_batch(self.batch_size)
        if labels is None:
            raise GanDataError("ACGAN needs class labels: train it on MNIST, not on a folder of unlabelled images")
        with torch.no_grad():
            fake_input = self.sample_input(len(real))
            fake, fake_labels = self.generator(fake_input.vector), fake_input.known_classes
        real_out, fake_out = self.discriminator(real), self.discriminator(fake)
        real_class_loss = self.class_loss(real_out.class_logits, labels)
        d_class_loss = (real_class_loss + self.class_loss(fake_out.class_logits, fake_labels)) / 2
        d_loss = self.adversarial_loss(real_out.score, fake_out.score) + d_class_loss
        optimizer_step(self.d_optimizer, d_loss)

        with frozen(self.discriminator):
            g_input = self.sample_input(self.batch_size)
            g_out = self.discriminator(self.generator(g_input.vector))
            g_loss = self.generator_loss(g_out.score) + self.class_loss(g_out.class_logits, g_input.classes)
            optimizer_step(self.g_optimizer, g_loss)

        return {
            "g_loss": g_loss.item(),
            "d_loss": d_loss.item(),
            "d_accuracy": real_fake_accuracy(real_out.score, fake_out.score),
            "class_accuracy": class_accuracy(
                torch.cat([real_out.known_class_logits, fake_out.known_class_logits]), torch.cat([labels, fake_labels])
            ),
        }
