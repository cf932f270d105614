"""labs.gan networks, losses and data: shapes and parameter counts from the sources, squash, IDX, toy sets."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from idx_files import write_idx
from PIL import Image

from labs.gan.capsule import CapsuleBody, DenseRouting, PrimaryCapsules, capsule_grid_size, squash
from labs.gan.data import load_image_folder, load_training_images
from labs.gan.discriminators import ConvBody, Discriminator, SineConvBody
from labs.gan.errors import GanDataError, GanSettingError
from labs.gan.generators import DCGANGenerator, LinearGenerator, MLPGenerator, SineGenerator, upsampling_count
from labs.gan.layers import keras_batch_norm
from labs.gan.losses import (
    AuxiliaryClassLoss,
    ContinuousCodeLoss,
    CriticGeneratorLoss,
    CriticLoss,
    DiscriminatorLoss,
    GradientPenalty,
    MinimaxGeneratorLoss,
    NonSaturatingGeneratorLoss,
)
from labs.gan.model import Batch
from labs.gan.registry import build_gan, gan_names
from labs.gan.toy import TARGETS, SineWaves
from labs.mnist import MnistDataError, read_idx
from sr_core.models.blocks import count_parameters

# --- data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_returns_the_stored_array_gzipped_or_not(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    write_idx(tmp_path / name, images)
    assert np.array_equal(read_idx(tmp_path / name), images)


def test_read_idx_reads_big_endian_integers(tmp_path):
    values = np.array([1, -2, 70000], dtype=np.int32)
    write_idx(tmp_path / "values-idx1", values, type_code=0x0C)
    assert read_idx(tmp_path / "values-idx1").tolist() == [1, -2, 70000]


def test_read_idx_refuses_a_truncated_file_with_a_typed_error(tmp_path):
    write_idx(tmp_path / "short-idx3", np.zeros((2, 3, 3), dtype=np.uint8))
    (tmp_path / "short-idx3").write_bytes((tmp_path / "short-idx3").read_bytes()[:-4])
    with pytest.raises(MnistDataError, match="truncated"):
        read_idx(tmp_path / "short-idx3")


def test_mnist_test_set_alone_holds_out_every_fifth_digit_from_both_writer_populations(tmp_path):
    """t10k is SD-3 writers then SD-1 writers: a tail cut would hold out only the second population."""
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20, dtype=np.uint8))  # label = position
    split = load_training_images(tmp_path)
    assert split.train.images.shape == (16, 1, 28, 28) and split.test.labels.tolist() == [4, 9, 14, 19]
    assert not set(split.train.labels.tolist()) & set(split.test.labels.tolist())
    assert split.train.images.min() >= -1 and split.train.images.max() <= 1


def test_an_image_folder_becomes_64x64_rgb_in_minus_one_to_one(tmp_path):
    Image.new("RGB", (100, 80), (255, 0, 0)).save(tmp_path / "wide.png")
    Image.new("L", (40, 40), 0).save(tmp_path / "grey.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_image_folder(tmp_path)
    assert images.images.shape == (2, 3, 64, 64) and images.labels is None
    assert images.images[1, 0].mean() > 0.99 and images.images[1, 1].mean() < -0.99  # the red one


def test_a_folder_without_images_or_mnist_is_a_data_error(tmp_path):
    with pytest.raises(GanDataError, match="no images"):
        load_training_images(tmp_path)


def test_the_thesis_targets_read_3_25_as_a_standard_deviation():
    normal, mixture = TARGETS["normal"], TARGETS["mixture"]
    assert (normal.mean, normal.std) == (2.5, 3.25)
    expected_std = math.sqrt(0.5 * (3.25**2 + 5.5**2) + 0.5 * (1.75**2 + 3.2**2) - 1.15**2)
    assert mixture.mean == pytest.approx(1.15) and mixture.std == pytest.approx(expected_std)
    torch.manual_seed(0)
    draws = mixture.sample(200_000)
    assert draws.mean().item() == pytest.approx(1.15, abs=0.05)
    assert draws.std().item() == pytest.approx(expected_std, rel=0.01)


def test_the_mixture_density_integrates_to_one():
    grid = np.linspace(-30, 30, 20001)
    assert np.trapezoid(TARGETS["mixture"].pdf(grid), grid) == pytest.approx(1.0, abs=1e-6)


def test_sine_wave_images_are_binary_50x50_with_different_phases():
    torch.manual_seed(0)
    waves = SineWaves().sample(4)
    assert waves.shape == (4, 1, 50, 50) and set(waves.unique().tolist()) == {-1.0, 1.0}
    assert not torch.equal(waves[0], waves[1])
    assert ((waves > 0).sum(dim=2) > 0).all()  # every column crosses the curve


def test_real_sine_waves_fit_a_wave_and_cover_every_phase_while_noise_and_one_phase_do_not():
    from labs.gan.evaluation import sine_fit

    torch.manual_seed(0)
    waves = SineWaves()
    real = sine_fit(waves.sample(600), waves)
    assert real["curve_iou"] > 0.9 and real["phase_distance"] < 0.1
    noise = sine_fit(torch.rand(600, 1, 50, 50) * 2 - 1, waves)
    assert noise["curve_iou"] < 0.15
    collapsed = sine_fit(waves.draw(torch.full((600,), 1.0)), waves)
    assert collapsed["curve_iou"] > 0.9 and collapsed["phase_distance"] > 0.9


def test_instance_noise_blurs_what_the_discriminator_sees_and_must_not_be_negative():
    gan = build_gan("sine", size="tiny", instance_noise=0.5)
    images = SineWaves().sample(2)
    torch.manual_seed(1)
    noisy_score = gan._judge(images)
    assert not torch.equal(noisy_score, gan.discriminator(images).score)
    clean = build_gan("sine", size="tiny", instance_noise=0.0)
    assert torch.equal(clean._judge(images), clean.discriminator(images).score)
    with pytest.raises(GanSettingError, match="instance noise"):
        build_gan("sine", size="tiny", instance_noise=-0.1)


# --- generators and discriminators ---------------------------------------------------------------


def test_the_report_generator_has_its_table_s_parameter_count_and_output():
    generator = DCGANGenerator(100, (3, 64, 64))
    assert count_parameters(generator) == 1_068_803  # report 6.1.1: trainable params
    images = generator(torch.randn(2, 100))
    assert images.shape == (2, 3, 64, 64) and images.abs().max() <= 1


@pytest.mark.parametrize(("size", "count"), [(28, 2), (64, 3), (50, 1)])
def test_upsampling_count_reaches_the_image_from_a_base_of_at_least_seven(size, count):
    assert upsampling_count(size) == count and size // 2**count >= 7


def test_the_generators_of_the_thesis_make_their_shapes():
    assert LinearGenerator()(torch.zeros(5, 1)).shape == (5, 1)
    assert MLPGenerator()(torch.randn(5, 1)).shape == (5, 1)
    assert SineGenerator()(torch.rand(5, 16)).shape == (5, 1, 50, 50)


def test_the_sine_generator_upsamples_without_a_stride_checkerboard():
    """All-ones kernels on a flat input: a kernel that is no multiple of the stride gives alternating sums."""
    generator = SineGenerator(width=4)
    for layer, input_size in ((generator.up25, 13), (generator.up50, 25)):
        torch.nn.init.ones_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
        with torch.no_grad():
            inside = layer(torch.ones(1, layer.in_channels, input_size, input_size))[:, :, 2:-2, 2:-2]
        assert torch.all(inside == inside.max())


def test_the_sine_networks_batch_normalise_as_dcgan_does():
    gan = build_gan("sine", size="tiny")
    for network in (gan.generator, gan.discriminator):
        assert any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in network.modules())


def test_mlp_generator_dropout_stays_on_in_eval_mode_because_it_is_noise():
    generator = MLPGenerator(dropout=0.75).eval()
    z = torch.ones(1, 1).expand(64, 1)
    assert generator(z).std() > 0


def test_keras_batch_norm_uses_keras_momentum_and_epsilon_not_eps_0_8():
    layer = keras_batch_norm(4)
    assert layer.momentum == pytest.approx(0.2) and layer.eps == pytest.approx(1e-3)


def test_the_classical_discriminator_reads_mnist_into_4x4x256_features():
    body = ConvBody((1, 28, 28))
    assert body.out_features == 4 * 4 * 256
    critique = Discriminator(body, num_classes=10, num_continuous=2)(torch.randn(3, 1, 28, 28))
    assert critique.score.shape == (3,) and critique.class_logits.shape == (3, 10)
    assert critique.continuous.shape == (3, 2)


def test_discriminator_heads_are_logits_not_probabilities():
    discriminator = Discriminator(SineConvBody(), num_classes=10)
    with torch.no_grad():
        discriminator.score.bias.fill_(5.0)
        critique = discriminator(torch.zeros(2, 1, 50, 50))
    assert (critique.score > 1).all()
    assert not torch.allclose(critique.class_logits.exp().sum(dim=1), torch.ones(2))


# --- the capsule discriminator -------------------------------------------------------------------


def test_capsule_discriminator_matches_the_report_s_table_at_64x64():
    discriminator = Discriminator(CapsuleBody((3, 64, 64)))
    assert count_parameters(discriminator) == 29_042_225  # report 6.1.2: trainable params
    assert capsule_grid_size(64) ** 2 * 32 == 18_432


def test_capsule_discriminator_has_1152_primary_capsules_on_mnist():
    body = CapsuleBody((1, 28, 28), conv_channels=16, capsule_maps=32, routing_units=160)
    features = body.conv_norm(F.leaky_relu(body.conv(torch.randn(2, 1, 28, 28)), body.negative_slope))
    assert body.primary(features).shape == (2, 1152, 8)
    assert body(torch.randn(2, 1, 28, 28)).shape == (2, 160)


def test_primary_capsules_group_channels_like_keras_reshape_of_nhwc():
    capsules = PrimaryCapsules(1, capsule_maps=2, capsule_dim=3, kernel_size=1)
    with torch.no_grad():
        capsules.conv.weight.zero_()
        capsules.conv.bias.copy_(torch.arange(6.0))
    out = capsules(torch.zeros(1, 1, 17, 17))
    assert torch.allclose(out[0, 0], squash(torch.tensor([0.0, 1.0, 2.0])))
    assert torch.allclose(out[0, 1], squash(torch.tensor([3.0, 4.0, 5.0])))


def test_squash_keeps_direction_and_maps_length_n_to_n2_over_1_plus_n2():
    vectors = torch.tensor([[3.0, 4.0], [0.03, 0.04], [300.0, 400.0]])
    squashed = squash(vectors)
    lengths = vectors.norm(dim=1)
    assert torch.allclose(squashed.norm(dim=1), lengths**2 / (1 + lengths**2), atol=1e-6)
    assert torch.allclose(squashed / squashed.norm(dim=1, keepdim=True), vectors / lengths.unsqueeze(1), atol=1e-6)
    assert (squashed.norm(dim=1) < 1).all()


def test_squash_of_a_zero_vector_is_zero_with_a_finite_gradient():
    zero = torch.zeros(1, 8, requires_grad=True)
    out = squash(zero)
    out.sum().backward()
    assert torch.equal(out, torch.zeros(1, 8)) and torch.isfinite(zero.grad).all()


def test_dense_routing_unrolls_softmax_dense_multiply_leaky_relu_rounds():
    torch.manual_seed(0)
    routing = DenseRouting(6, units=4, routings=3)
    x = torch.randn(2, 6)
    u_hat = routing.u_hat(x)
    s = u_hat
    for coupling in routing.couplings:
        s = F.leaky_relu(u_hat * coupling(torch.softmax(s, dim=1)), 0.3)
    assert len(routing.couplings) == 3 and torch.allclose(routing(x), s)


def test_capsule_discriminator_without_batch_norm_judges_each_sample_alone():
    body = CapsuleBody((1, 28, 28), conv_channels=8, capsule_maps=2, routing_units=16, batch_norm=False)
    batch = torch.randn(3, 1, 28, 28)
    assert torch.allclose(body(batch)[:1], body(batch[:1]), atol=1e-6)


# --- losses --------------------------------------------------------------------------------------


def test_discriminator_loss_is_the_mean_of_real_and_fake_cross_entropies():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected = (-torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()) / 2
    assert DiscriminatorLoss()(real, fake) == pytest.approx(expected.item(), rel=1e-6)


def test_non_saturating_generator_loss_is_minus_log_d_of_fake():
    fake = torch.tensor([0.3, -2.0])
    assert NonSaturatingGeneratorLoss()(fake) == pytest.approx(-torch.log(torch.sigmoid(fake)).mean().item(), rel=1e-6)


def test_minimax_generator_loss_is_log_one_minus_d_of_fake():
    fake = torch.tensor([0.3, -2.0])
    assert MinimaxGeneratorLoss()(fake) == pytest.approx(torch.log(1 - torch.sigmoid(fake)).mean().item(), rel=1e-6)


def test_critic_losses_estimate_the_wasserstein_gap():
    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([1.0, 1.0])
    assert CriticLoss()(real, fake).item() == -3.0 and CriticGeneratorLoss()(fake).item() == -1.0


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_positive_otherwise():
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    unit = GradientPenalty(10.0)(lambda x: x[:, 0], real, fake)
    steep = GradientPenalty(10.0)(lambda x: 3 * x[:, 0], real, fake)
    assert unit.item() == pytest.approx(0.0, abs=1e-6) and steep.item() == pytest.approx(40.0)


def test_gradient_penalty_trains_the_critic_through_its_input_gradient():
    weight = torch.tensor([3.0], requires_grad=True)
    GradientPenalty(1.0)(lambda x: (weight * x).sum(dim=1), torch.randn(4, 1), torch.randn(4, 1)).backward()
    assert weight.grad.item() == pytest.approx(2 * (3.0 - 1.0))


def test_auxiliary_class_loss_applies_the_softmax_itself():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    assert AuxiliaryClassLoss()(logits, labels) == pytest.approx(-torch.log_softmax(logits, 1)[0, 0].item())


def test_continuous_code_loss_is_half_the_squared_error_per_sample():
    estimate, codes = torch.tensor([[0.5, -0.5], [0.0, 0.0]]), torch.tensor([[0.0, 0.5], [1.0, 0.0]])
    assert ContinuousCodeLoss()(estimate, codes).item() == pytest.approx((0.5 * 1.25 + 0.5 * 1.0) / 2)


# --- the registry --------------------------------------------------------------------------------


def test_every_issue_model_is_registered():
    assert gan_names() == ["gan1d", "sine", "dcgan", "wgan", "wgan-gp", "acgan", "infogan"]


@pytest.mark.parametrize("name", ["dcgan", "wgan", "wgan-gp", "acgan", "infogan"])
@pytest.mark.parametrize("discriminator", ["cnn", "capsule"])
def test_every_image_gan_builds_with_both_discriminators(name, discriminator):
    gan = build_gan(name, discriminator=discriminator, size="tiny")
    images = gan.generate(2)
    assert images.shape == (2, 1, 28, 28)
    assert gan.discriminator(images).score.shape == (2,)


def test_wgan_gp_critics_have_no_batch_norm():
    for discriminator in ("cnn", "capsule"):
        critic = build_gan("wgan-gp", discriminator=discriminator, size="tiny").discriminator
        assert not any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in critic.modules())


def test_the_sine_gan_is_built_for_its_50x50_waves_whatever_image_shape_it_is_given():
    torch.manual_seed(0)
    gan = build_gan("sine", size="tiny")  # the default image_shape is MNIST's 28x28
    metrics = gan.train_step(lambda count: Batch(SineWaves().sample(count)))
    assert gan.generate(2).shape == (2, 1, 50, 50) and np.isfinite(metrics["d_loss"])


def test_unknown_discriminators_and_options_are_setting_errors():
    with pytest.raises(GanSettingError, match="no 'capsule' discriminator"):
        build_gan("gan1d", discriminator="capsule")
    with pytest.raises(GanSettingError, match="does not take"):
        build_gan("acgan", k=3)
    with pytest.raises(GanSettingError, match="'linear' or 'mlp'"):
        build_gan("gan1d", generator="cubic")
