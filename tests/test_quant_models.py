"""The MNIST teacher and the (conditional) batch-norm generator of ZS-CGAN."""

import pytest
import torch
from quant_helpers import TINY_WIDTHS, tiny_teacher

from labs.mnist import LabeledImages
from labs.zscgan.teacher import MnistResNet, accuracy, train_teacher
from sr_core.errors import QuantSettingError
from sr_core.optimize import fold_batch_norms
from sr_core.quant.generator import ConditionalBatchNorm2d, Generator

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_teacher_maps_mnist_digits_to_ten_logits():
    assert MnistResNet(TINY_WIDTHS)(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_teacher_batch_norms_all_fold_into_its_convs():
    teacher = tiny_teacher()
    folded = fold_batch_norms(teacher)
    images = torch.randn(4, 1, 28, 28)
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in folded.modules())
    assert torch.allclose(folded(images), teacher(images), atol=1e-5)


def test_teacher_training_learns_a_separable_toy_task():
    labels = torch.arange(20) % 2
    images = torch.where(labels[:, None, None, None] == 1, 0.8, -0.8) + 0.1 * torch.randn(20, 1, 28, 28)
    data = LabeledImages(images, labels)
    teacher = train_teacher(data, epochs=10, batch_size=10, lr=1e-2, widths=TINY_WIDTHS)
    assert accuracy(teacher, data) == 100.0
    assert not any(parameter.requires_grad for parameter in teacher.parameters())


def test_conditional_batch_norm_gives_each_class_its_own_scale_and_shift():
    norm = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        norm.shift.weight[1] += 5.0
    features = torch.randn(4, 2, 3, 3)
    shifted = norm(features, torch.tensor([1, 1, 1, 1])) - norm(features, torch.tensor([0, 0, 0, 0]))
    assert torch.allclose(shifted, torch.full_like(shifted, 5.0), atol=1e-5)


def test_generator_output_has_the_image_shape_and_range_asked_for():
    generator = Generator(num_classes=1, latent_dim=8, out_channels=3, size=12, width=8, output_range=(0.0, 1.0))
    images, labels = generator.sample(5)
    assert images.shape == (5, 3, 12, 12) and labels.tolist() == [0] * 5
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_generator_samples_depend_on_the_label():
    torch.manual_seed(0)
    generator = Generator(num_classes=10, latent_dim=8, width=8)
    with torch.no_grad():
        generator.norm0.shift.weight.normal_()
    z = torch.randn(4, 8)
    assert not torch.allclose(
        generator(z, torch.zeros(4, dtype=torch.long)), generator(z, torch.ones(4, dtype=torch.long))
    )


def test_generator_size_must_be_a_multiple_of_four():
    with pytest.raises(QuantSettingError, match="multiple of 4"):
        Generator(size=30)
