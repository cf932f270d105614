"""Quantization-aware training by knowledge distillation (the paper's section 2.3, eq. 4).

The student is the teacher itself with BN folded into its convs and fake quantization on
weights and activations; it learns to match the frozen float teacher's soft predictions,
H(T(x), S(x)), on whatever batches it is given: generator samples (data-free QAT) or real
images (data-dependent QAT; same loss, so the data is the only difference). BN stays folded
with the teacher's statistics: synthetic batches must not overwrite what the teacher learned.
Activation ranges are calibrated on the first batches as in PTQ and then frozen; weight
ranges follow the weights. The optimiser is the paper's: Nesterov momentum 0.9, lr 1e-4,
cosine decay (1e-2 diverges at int4; measured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from labs.mnist import LabeledImages
from sr_core.errors import QuantSettingError
from sr_core.optimize import fold_batch_norms
from sr_core.ptq import convert, export_network, freeze_activation_ranges, load_torchao, quantizer
from sr_core.quant.zscgan import ZeroShotTrainer

Batches = Callable[[], torch.Tensor]


@dataclass(frozen=True)
class QATConfig:
    bits: int = 8
    steps: int = 200
    batch_size: int = 64
    lr: float = 1e-4
    momentum: float = 0.9
    calibration_batches: int = 8
    seed: int = 0


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 4: the cross-entropy of the student's softmax against the teacher's, averaged over the batch."""
    return -(teacher_logits.softmax(dim=1) * student_logits.log_softmax(dim=1)).sum(dim=1).mean()


def real_batches(data: LabeledImages, batch_size: int, seed: int = 0) -> Batches:
    """Random batches of real images (labels unused), for data-dependent QAT."""
    random = torch.Generator().manual_seed(seed)
    return lambda: data.images[torch.randint(len(data), (batch_size,), generator=random)]


def synthetic_batches(trainer: ZeroShotTrainer, batch_size: int, keep_training: bool = True) -> Batches:
    """Fresh generator samples for every batch; with ``keep_training`` the generator takes one ZS-CGAN step first.

    The paper goes on training the generator during distillation, so the student never sees
    the same batch twice and the generator keeps following eq. 2.
    """

    def next_batch() -> torch.Tensor:
        if keep_training:
            trainer.step()
        trainer.generator.eval()
        with torch.no_grad():
            return trainer.generator.sample(batch_size)[0]

    return next_batch


def prepare_student(teacher: nn.Module, example: torch.Tensor, bits: int) -> torch.fx.GraphModule:
    """The fake-quantized, BN-folded copy of ``teacher`` that QAT trains (``teacher`` is left untouched)."""
    load_torchao()
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    student = prepare_qat_pt2e(export_network(fold_batch_norms(teacher), example), quantizer(bits, qat=True))
    for parameter in student.parameters():
        parameter.requires_grad_(True)
    return student


def quantization_aware_training(
    teacher: nn.Module,
    batches: Batches,
    config: QATConfig,
    progress: Callable[[str], None] | None = None,
    every: int = 50,
) -> torch.fx.GraphModule:
    """Distil ``teacher`` into its ``config.bits`` quantized copy on ``batches``; returns the converted model."""
    if config.steps < 1 or config.calibration_batches < 1:
        raise QuantSettingError(f"QAT needs at least one step and one calibration batch, not {config}")
    torch.manual_seed(config.seed)
    images = batches()
    student = prepare_student(teacher, images, config.bits)
    with torch.no_grad():
        student(images)
        for _ in range(config.calibration_batches - 1):
            student(batches())
    freeze_activation_ranges(student)
    optimizer = torch.optim.SGD(student.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    for step in range(config.steps):
        images = batches()
        with torch.no_grad():
            teacher_logits = teacher(images)
        loss = distillation_loss(student(images), teacher_logits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress and ((step + 1) % every == 0 or step + 1 == config.steps):
            progress(f"QAT int{config.bits} step {step + 1}/{config.steps}: distillation loss {loss.item():.4f}")
    return convert(student)
