"""What every GAN is: a generator, a discriminator, their optimizers, and a ``train_step`` of its own.

As in mimicry, each GAN family (``goodfellow``, ``wgan``, ``acgan``, ``infogan``) subclasses
:class:`GAN` and writes its training step top to bottom; this module holds only what they share:
sampling the generator's input, generating without gradients, and saving/restoring state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from labs.gan.errors import GanSettingError

PREVIEW_SEED = 1234  # the same noise for every preview grid, so grids over a run show one z evolving


class Batch(NamedTuple):
    """N training samples (images NCHW in [-1, 1], or (N, 1) values) and their class labels (N,) if any."""

    samples: torch.Tensor
    labels: torch.Tensor | None = None


NextBatch = Callable[[int], Batch]


class GeneratorInput(NamedTuple):
    """What the generator reads, (N, input_dim), and the classes (N,) and continuous codes (N, K) inside it."""

    vector: torch.Tensor
    classes: torch.Tensor | None = None
    continuous: torch.Tensor | None = None

    @property
    def known_classes(self) -> torch.Tensor:
        """``classes`` of a conditional GAN's input (ACGAN, InfoGAN), which always draws them."""
        if self.classes is None:
            raise GanSettingError("this GAN draws no classes")
        return self.classes


@dataclass(frozen=True)
class OptimizerSettings:
    """An optimizer as data: ``kind`` "adam" or "rmsprop", its learning rate, Adam's betas, L2 weight decay.

    Weight decay is the thesis's "penalty on the norm of all trainable variables" (4.5): adding
    ``weight_decay * w`` to the gradient is the gradient of ``weight_decay / 2 * |w|^2`` in the loss.
    """

    kind: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0

    def build(self, parameters: Iterator[nn.Parameter]) -> torch.optim.Optimizer:
        if self.kind == "adam":
            return torch.optim.Adam(parameters, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)
        if self.kind == "rmsprop":
            return torch.optim.RMSprop(parameters, lr=self.lr, weight_decay=self.weight_decay)
        raise GanSettingError(f"unknown optimizer {self.kind!r}: use 'adam' or 'rmsprop'")


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One update of ``optimizer``'s parameters down ``loss``'s gradient (stale gradients cleared first)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def decayed_lr_scale(step: int, steps: int, decay_fraction: float) -> float:
    """The learning-rate factor of ``step`` (1-based) in a run of ``steps``: 1, then linearly down to 1/n.

    ``decay_fraction`` is the share of the run, at its end, over which the rate falls (n steps);
    0 keeps it constant. CycleGAN's schedule (Zhu et al. 2017): a GAN at a constant rate keeps
    circling its equilibrium by steps that grow with the rate, so the last snapshot lands anywhere
    on that circle; shrinking the rate lets it settle. The factor depends on the run's length:
    resuming a run to a larger ``--steps`` moves the decay to the new end.
    """
    decay_steps = round(steps * decay_fraction)
    if decay_steps < 1:
        return 1.0
    return min(1.0, (steps - step + 1) / decay_steps)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Keep ``module``'s parameters out of autograd (the discriminator during a generator step), then restore."""
    flags = [parameter.requires_grad for parameter in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(module.parameters(), flags):
            parameter.requires_grad_(flag)


class GAN:
    """A generator and a discriminator with their optimizers and the shape of the generator's input.

    The generator's input is ``latent_dim`` noise values ("normal" N(0, 1) or "uniform" U(-1, 1)),
    followed by a one-hot of ``num_classes`` classes (ACGAN's label, InfoGAN's categorical code)
    and ``num_continuous`` U(-1, 1) codes (InfoGAN). ``batch_size`` is the source's minibatch.
    ``classes_are_labels`` says the classes are the data's labels (ACGAN), not codes the GAN
    assigned meaning to by itself (InfoGAN). ``lr_decay``: the share of a run, at its end, over
    which the trainer brings both learning rates linearly to zero (:func:`decayed_lr_scale`).
    """

    classes_are_labels = False

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        latent_dim: int,
        batch_size: int,
        g_optimizer: OptimizerSettings,
        d_optimizer: OptimizerSettings,
        latent: str = "normal",
        num_classes: int = 0,
        num_continuous: int = 0,
        lr_decay: float = 0.0,
    ) -> None:
        if latent not in ("normal", "uniform"):
            raise GanSettingError(f"latent must be 'normal' or 'uniform', not {latent!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.latent = latent
        self.num_classes = num_classes
        self.num_continuous = num_continuous
        self.batch_size = batch_size
        if not 0.0 <= lr_decay <= 1.0:
            raise GanSettingError(f"lr_decay is a share of the run, between 0 and 1, not {lr_decay}")
        self.lr_decay = lr_decay
        self.g_optimizer = g_optimizer.build(generator.parameters())
        self.d_optimizer = d_optimizer.build(discriminator.parameters())
        self._base_lrs = (g_optimizer.lr, d_optimizer.lr)

    def scale_learning_rates(self, scale: float) -> None:
        """Set both optimizers' rates to ``scale`` times the ones they were built with."""
        for optimizer, base_lr in zip((self.g_optimizer, self.d_optimizer), self._base_lrs):
            for group in optimizer.param_groups:
                group["lr"] = base_lr * scale

    # --- the generator's input ---------------------------------------------------------------

    def sample_input(
        self,
        count: int,
        generator: torch.Generator | None = None,
        classes: torch.Tensor | None = None,
        continuous: torch.Tensor | None = None,
    ) -> GeneratorInput:
        """A random generator input for ``count`` samples; ``classes`` (N,) fixes the requested classes
        (codes) and ``continuous`` (N, num_continuous) the continuous codes, e.g. to sweep one of them."""
        if self.latent == "uniform":
            noise = torch.rand(count, self.latent_dim, generator=generator) * 2 - 1
        else:
            noise = torch.randn(count, self.latent_dim, generator=generator)
        parts = [noise]
        if self.num_classes:
            if classes is None:
                classes = torch.randint(self.num_classes, (count,), generator=generator)
            parts.append(F.one_hot(classes, self.num_classes).float())
        if self.num_continuous:
            if continuous is None:
                continuous = torch.rand(count, self.num_continuous, generator=generator) * 2 - 1
            parts.append(continuous)
        else:
            continuous = None
        return GeneratorInput(torch.cat(parts, dim=1), classes, continuous)

    # --- sampling --------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        count: int,
        classes: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        continuous: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``count`` samples in eval mode (batch-norm running statistics), of the given classes and codes if any."""
        if classes is not None and not self.num_classes:
            raise GanSettingError("this GAN is not conditional: it cannot generate a requested class")
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(self.sample_input(count, generator, classes, continuous).vector)
        finally:
            self.generator.train(was_training)

    def preview(self, count: int = 64) -> torch.Tensor:
        """Samples for a progress grid: fixed noise; for conditional GANs one class per row of ``count ** 0.5``."""
        generator = torch.Generator().manual_seed(PREVIEW_SEED)
        classes = None
        if self.num_classes:
            row = max(int(count**0.5), 1)
            classes = (torch.arange(count) // row) % self.num_classes
        return self.generate(count, classes, generator)

    # --- training --------------------------------------------------------------------------------

    def train_step(self, next_batch: NextBatch) -> dict[str, float]:
        """One iteration of the family's algorithm; ``next_batch(n)`` draws n real samples.

        Returns at least ``g_loss``, ``d_loss`` and ``d_accuracy`` (the report's three curves).
        """
        raise NotImplementedError

    # --- checkpoints -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Both networks and both optimizers: what resuming a run needs, nothing else."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
