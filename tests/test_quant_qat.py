"""Quantization-aware training by distillation (eq. 4), from real or synthetic batches."""

import pytest
import torch
from quant_helpers import tiny_teacher

from labs.mnist import LabeledImages
from labs.zscgan.qat import (
    QATConfig,
    distillation_loss,
    prepare_student,
    quantization_aware_training,
    real_batches,
    synthetic_batches,
)
from sr_core.errors import QuantSettingError
from sr_core.ptq import freeze_activation_ranges, load_torchao
from sr_core.quant.zscgan import GeneratorConfig, ZeroShotTrainer

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_distillation_loss_is_cross_entropy_against_the_teachers_softmax_and_lowest_at_the_teacher():
    teacher_logits = torch.tensor([[2.0, 0.0, -1.0]])
    expected = -(teacher_logits.softmax(1) * teacher_logits.log_softmax(1)).sum()
    assert distillation_loss(teacher_logits, teacher_logits).item() == pytest.approx(expected.item())
    assert distillation_loss(torch.tensor([[0.0, 2.0, -1.0]]), teacher_logits) > distillation_loss(
        teacher_logits, teacher_logits
    )


def test_the_converted_student_computes_exactly_what_the_fake_quantized_one_did():
    """torchao's default fused fake quant disagrees with its own converted model; ours must not."""
    load_torchao()
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    teacher = tiny_teacher()
    images = torch.randn(16, 1, 28, 28)
    student = prepare_student(teacher, images, bits=4)
    with torch.no_grad():
        student(images)
        freeze_activation_ranges(student)
        fake_quantized = student(images)
        converted = convert_pt2e(student)(images)
    assert torch.allclose(fake_quantized, converted, atol=1e-5)


def test_qat_on_real_batches_gives_a_quantized_classifier_and_leaves_the_teacher_alone():
    teacher = tiny_teacher()
    data = LabeledImages(torch.randn(40, 1, 28, 28), torch.arange(40) % 10)
    before = {name: value.clone() for name, value in teacher.state_dict().items()}
    quantized = quantization_aware_training(
        teacher, real_batches(data, 8), QATConfig(bits=6, steps=3, batch_size=8, calibration_batches=2)
    )

    images = data.images[:8]
    with torch.no_grad():
        assert quantized(images).shape == (8, 10)
    assert all(torch.equal(before[name], value) for name, value in teacher.state_dict().items())


def test_synthetic_batches_come_from_the_generator_which_can_keep_training():
    trainer = ZeroShotTrainer(tiny_teacher(), GeneratorConfig(steps=0, batch_size=4, width=8, latent_dim=8))
    weights = trainer.generator.conv_out.weight.clone()
    assert synthetic_batches(trainer, 5, keep_training=False)().shape == (5, 1, 28, 28)
    assert torch.equal(weights, trainer.generator.conv_out.weight)
    synthetic_batches(trainer, 5, keep_training=True)()
    assert not torch.equal(weights, trainer.generator.conv_out.weight)


def test_qat_needs_a_step():
    with pytest.raises(QuantSettingError, match="step"):
        quantization_aware_training(tiny_teacher(), lambda: torch.randn(4, 1, 28, 28), QATConfig(steps=0))
