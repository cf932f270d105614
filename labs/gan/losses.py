"""The GAN losses, one small module each. Scores are logits (or critic values), never probabilities.

Working on logits lets ``binary_cross_entropy_with_logits`` and ``cross_entropy`` compute
log-sigmoid and log-softmax stably; nothing here applies a sigmoid or softmax first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DiscriminatorLoss(nn.Module):
    """Goodfellow's discriminator objective as a loss: -[log D(x) + log(1 - D(G(z)))] / 2.

    The mean of the real and the fake halves, as Keras-GAN's ``0.5 * (d_loss_real + d_loss_fake)``
    that the report's curves show (the thesis sums them; Adam does not mind the factor).
    """

    def forward(self, real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
        real = F.binary_cross_entropy_with_logits(real_score, torch.ones_like(real_score))
        fake = F.binary_cross_entropy_with_logits(fake_score, torch.zeros_like(fake_score))
        return (real + fake) / 2


class NonSaturatingGeneratorLoss(nn.Module):
    """-log D(G(z)): the generator loss of the thesis's code and of DCGAN.

    Same fixed point as the minimax loss, but strong gradients while D still rejects G's samples.
    """

    def forward(self, fake_score: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake_score, torch.ones_like(fake_score))


class MinimaxGeneratorLoss(nn.Module):
    """log(1 - D(G(z))), the generator's term of Goodfellow's algorithm as written (it saturates early on)."""

    def forward(self, fake_score: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_score).mean()


class CriticLoss(nn.Module):
    """WGAN's critic loss E[C(G(z))] - E[C(x)]: its negative estimates the Wasserstein-1 distance."""

    def forward(self, real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
        return fake_score.mean() - real_score.mean()


class CriticGeneratorLoss(nn.Module):
    """WGAN's generator loss -E[C(G(z))]."""

    def forward(self, fake_score: torch.Tensor) -> torch.Tensor:
        return -fake_score.mean()


class GradientPenalty(nn.Module):
    """WGAN-GP's penalty weight * E[(|grad_x C(x_hat)| - 1)^2] at random points between real and fake samples.

    ``critic`` maps a batch to scores (N,); real and fake batches have the same shape. The graph
    is kept (``create_graph``) so the penalty itself trains the critic.
    """

    def __init__(self, weight: float = 10.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        mix = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        score = critic(between)
        (gradient,) = torch.autograd.grad(score.sum(), between, create_graph=True)
        return self.weight * (gradient.flatten(1).norm(dim=1) - 1).pow(2).mean()


class AuxiliaryClassLoss(nn.Module):
    """Cross-entropy of class logits against class indices (ACGAN's classifier, InfoGAN's categorical code)."""

    def forward(self, class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(class_logits, labels)


class ContinuousCodeLoss(nn.Module):
    """InfoGAN's continuous-code term: the negative log-likelihood of the codes under N(estimate, 1).

    Up to a constant that is half the squared error, the factored Gaussian of Chen et al. with a fixed
    unit variance.
    """

    def forward(self, estimate: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return 0.5 * (estimate - codes).pow(2).sum(dim=1).mean()
