"""Zero-shot learning of a conditional generator (ZS-CGAN, the paper's eq. 2), no real data touched.

The frozen teacher is the discriminator: the generator minimises the cross-entropy between the
label it was given and the teacher's prediction (CE), plus L_BNS, which keeps the samples'
statistics at every BN layer of the teacher close to those of the training data. The loss
sets below are the paper's Table 2 ablation, plus GDFQ's moment-MSE form of the BNS term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sr_core.errors import QuantSettingError
from sr_core.quant.bns import BnsForm, bns_loss, forward_with_moments
from sr_core.quant.generator import Generator


@dataclass(frozen=True)
class LossSet:
    """Which terms of eq. 2 are on, and the form of the BNS term."""

    cross_entropy: bool
    bns: bool
    form: BnsForm = "kl"


LOSS_SETS: dict[str, LossSet] = {
    "ce+bns": LossSet(cross_entropy=True, bns=True),
    "ce": LossSet(cross_entropy=True, bns=False),
    "bns": LossSet(cross_entropy=False, bns=True),
    "ce+mse": LossSet(cross_entropy=True, bns=True, form="mse"),
}
LOSS_LABELS = {
    "ce+bns": "ZS-CGAN (CE+BNS)",
    "ce": "ZS-CGAN (CE)",
    "bns": "ZS-CGAN (BNS)",
    "ce+mse": "CE + GDFQ moment MSE",
}


def loss_set(name: str) -> LossSet:
    try:
        return LOSS_SETS[name]
    except KeyError:
        raise QuantSettingError(f"unknown loss set {name!r}; choose one of: {', '.join(LOSS_SETS)}") from None


@dataclass(frozen=True)
class GeneratorConfig:
    """ZS-CGAN training with the paper's Adam (beta1 0.5) for hundreds of steps instead of its 200,000.

    Hence lr 1e-2, not the paper's 1e-3: at 1e-3 the CE term had barely moved after 300 steps
    (CE 2.35, chance level), at 1e-2 the teacher agrees with half the labels (measured).
    """

    losses: str = "ce+bns"
    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-2
    latent_dim: int = 64
    width: int = 64
    seed: int = 0


@dataclass(frozen=True)
class StepLosses:
    total: float
    cross_entropy: float
    bns: float


class ZeroShotTrainer:
    """One generator learning against one frozen teacher; :meth:`step` is one batch of eq. 2.

    Kept as an object because data-free QAT goes on updating the generator while the student
    learns from it (the paper's section 3).
    """

    def __init__(
        self,
        teacher: nn.Module,
        config: GeneratorConfig,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        output_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        self.losses = loss_set(config.losses)
        if config.steps < 0 or config.batch_size < 2:
            raise QuantSettingError("generator training needs steps >= 0 and a batch of at least 2 (BN statistics)")
        torch.manual_seed(config.seed)
        self.config = config
        self.teacher = teacher
        channels, height, _width = image_shape
        self.generator = Generator(num_classes, config.latent_dim, channels, height, config.width, output_range)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=(0.5, 0.999))

    def step(self) -> StepLosses:
        """Sample a batch, score it with the teacher, update the generator once.

        Without the CE term the teacher's forward pass stops at its last BN layer (nothing
        behind it is used), and the CE is reported as NaN.
        """
        self.generator.train()
        images, labels = self.generator.sample(self.config.batch_size)
        logits, moments = forward_with_moments(self.teacher, images, stop_after_last=not self.losses.cross_entropy)
        cross_entropy = F.cross_entropy(logits, labels) if logits is not None else torch.tensor(float("nan"))
        bns = bns_loss(moments, self.losses.form)
        terms = [term for term, used in ((cross_entropy, self.losses.cross_entropy), (bns, self.losses.bns)) if used]
        total = sum(terms[1:], terms[0])
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return StepLosses(total.item(), cross_entropy.item(), bns.item())

    def train(self, progress: Callable[[str], None] | None = None, every: int = 50) -> list[StepLosses]:
        """Run ``config.steps`` steps; returns the losses of each (``progress`` gets a line every ``every`` steps)."""
        history = []
        for index in range(self.config.steps):
            history.append(self.step())
            if progress and ((index + 1) % every == 0 or index + 1 == self.config.steps):
                losses = history[-1]
                cross_entropy = f"CE {losses.cross_entropy:.3f}  " if self.losses.cross_entropy else ""
                progress(
                    f"generator {self.config.losses} step {index + 1}/{self.config.steps}: "
                    f"{cross_entropy}BNS {losses.bns:.3f}"
                )
        return history
