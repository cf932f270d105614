"""Each loss of sr_core.losses against an answer known by hand, on tiny tensors."""

from __future__ import annotations

import math
import urllib.error

import pytest
import torch
from torch import nn

from sr_core.errors import WeightsMismatchError, WeightsNotFoundError
from sr_core.losses import (
    SRGAN_FEATURE_SCALE,
    GANLoss,
    LinePhaseLoss,
    LowFrequencyLoss,
    MobileNetV2ContentLoss,
    PerceptualLoss,
    PhaseMeanLoss,
    PixelLoss,
    RelativisticAverageGANLoss,
    TotalVariationLoss,
    feature_network,
    mobilenet_content_loss,
    phase_means,
    vgg_loss_features,
)
from sr_core.train.objective import GeneratorObjective
from sr_core.train.presets import preset


@pytest.fixture
def offline(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No torchvision weights in the cache and none fetchable: the machines SR Studio is built on."""

    def refuse(*_args, **_kwargs) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture(scope="module")
def vgg_features() -> nn.Sequential:
    return feature_network("vgg19", "random")[0]


@pytest.fixture(scope="module")
def mobilenet_features() -> nn.Sequential:
    return feature_network("mobilenet_v2", "random")[0]


def test_pixel_loss_is_the_mean_squared_or_absolute_difference() -> None:
    sr, hr = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert PixelLoss("mse")(sr, hr).item() == pytest.approx(0.25)
    assert PixelLoss("l1")(sr, hr).item() == pytest.approx(0.5)


def test_low_frequency_loss_sees_a_tint_but_not_texture_that_averages_out_in_4x4_blocks() -> None:
    hr = torch.full((1, 3, 16, 16), 0.5)
    checkerboard = (torch.arange(16).view(16, 1) + torch.arange(16).view(1, 16)) % 2 * 0.2 - 0.1
    assert LowFrequencyLoss()(hr + checkerboard, hr).item() == pytest.approx(0.0, abs=1e-7)
    assert LowFrequencyLoss()(hr + 2 / 255, hr).item() == pytest.approx(2 / 255, rel=1e-4)
    assert PixelLoss("mse")(hr + checkerboard, hr).item() > PixelLoss("mse")(hr + 2 / 255, hr).item() * 100


def test_phase_means_find_a_period_4_column_pattern_and_nothing_in_a_tint_or_an_unaligned_texture() -> None:
    torch.manual_seed(0)
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 9, 9), size=(36, 36), mode="bilinear")
    stripes = torch.tensor([-1.0, 1.0, 1.0, -1.0]).repeat(9) / 255
    assert phase_means(image + 0.1).sub(phase_means(image)).abs().max() < 1e-6
    torch.testing.assert_close(phase_means(image + stripes) - phase_means(image), stripes[:4].expand(1, 3, 4, 4))
    noise = torch.rand(1, 3, 400, 400)  # texture without a grid: its phase offsets average out
    assert phase_means(noise).abs().max() < 0.01


def test_phase_mean_loss_charges_a_phase_locked_offset_but_not_a_tint() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    grid = torch.zeros(32, 32)
    grid[:, ::4] = 4 / 255
    assert PhaseMeanLoss()(hr, hr).item() == 0.0
    assert PhaseMeanLoss()(hr + 2 / 255, hr).item() == pytest.approx(0.0, abs=1e-7)
    assert PhaseMeanLoss()(hr + grid, hr).item() == pytest.approx(4 / 255 * 3 / 4 * 2 / 4, rel=1e-4)


def test_line_phase_loss_charges_stripes_whose_sign_follows_the_rows_which_the_crop_mean_misses() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    amplitude = 4 / 255
    row_signs = torch.tensor([1.0] * 4 + [-1.0] * 4).repeat(4).view(32, 1)  # flips from one 4x4 block row to the next
    modulated_grid = torch.zeros(32, 32)
    modulated_grid[:, ::4] = amplitude
    modulated_grid = modulated_grid * row_signs
    assert PhaseMeanLoss()(hr + modulated_grid, hr).item() == pytest.approx(0.0, abs=1e-7)
    # each row's offsets are +-(3/4, -1/4, -1/4, -1/4) x amplitude; no column varies within its 4-px segments
    assert LinePhaseLoss()(hr + modulated_grid, hr).item() == pytest.approx(3 / 8 * amplitude / 2, rel=1e-4)
    assert LinePhaseLoss()(hr, hr).item() == 0.0
    assert LinePhaseLoss()(hr + 2 / 255, hr).item() == pytest.approx(0.0, abs=1e-7)


def test_total_variation_of_a_constant_image_is_zero() -> None:
    assert TotalVariationLoss()(torch.full((2, 3, 8, 8), 0.3)).item() == 0.0


def test_total_variation_of_a_horizontal_ramp_counts_its_horizontal_steps() -> None:
    ramp = (0.1 * torch.arange(8.0)).expand(1, 3, 8, 8)
    assert TotalVariationLoss()(ramp).item() == pytest.approx(2 * 0.1**2)


@pytest.mark.parametrize(
    ("layer", "before_activation", "last_index", "last_type"),
    [("54", True, 34, nn.Conv2d), ("54", False, 35, nn.ReLU), ("22", False, 8, nn.ReLU)],
)
def test_perceptual_loss_cuts_vgg19_at_the_requested_feature_map(
    vgg_features: nn.Sequential, layer: str, before_activation: bool, last_index: int, last_type: type
) -> None:
    loss = PerceptualLoss(vgg_features, layer=layer, before_activation=before_activation)
    assert len(loss.features) == last_index + 1
    assert isinstance(loss.features[-1], last_type)


def test_perceptual_loss_is_zero_for_identical_images_and_positive_otherwise(vgg_features: nn.Sequential) -> None:
    loss = PerceptualLoss(vgg_features, layer="22")
    hr = torch.rand(1, 3, 32, 32)
    assert loss(hr, hr).item() == 0.0
    assert loss(hr.flip(-1), hr).item() > 0.0


def test_srgan_feature_rescaling_multiplies_the_mse_by_its_square(vgg_features: nn.Sequential) -> None:
    sr, hr = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    plain = PerceptualLoss(vgg_features, layer="22")(sr, hr)
    rescaled = PerceptualLoss(vgg_features, layer="22", feature_scale=SRGAN_FEATURE_SCALE)(sr, hr)
    assert (rescaled / plain).item() == pytest.approx(SRGAN_FEATURE_SCALE**2, rel=1e-4)


def test_perceptual_loss_gradient_reaches_the_sr_image_but_not_the_frozen_network(vgg_features: nn.Sequential) -> None:
    loss = PerceptualLoss(vgg_features, layer="22")
    sr = torch.rand(1, 3, 32, 32, requires_grad=True)
    loss(sr, torch.rand(1, 3, 32, 32)).backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert all(parameter.grad is None for parameter in loss.features.parameters())


def test_mobilenet_content_loss_uses_block_16_in_paper_mode_and_the_whole_stack_as_released(
    mobilenet_features: nn.Sequential,
) -> None:
    paper = MobileNetV2ContentLoss(mobilenet_features, mode="paper")
    released = MobileNetV2ContentLoss(mobilenet_features, mode="released")
    image = torch.rand(1, 3, 64, 64)
    assert (paper.imagenet_norm, released.imagenet_norm) == (True, False)
    assert paper.extract(image).shape[1] == 160
    assert released.extract(image).shape[1] == 1280


def test_feature_networks_stay_in_eval_mode_when_their_loss_is_put_in_training_mode(
    mobilenet_features: nn.Sequential,
) -> None:
    loss = MobileNetV2ContentLoss(mobilenet_features).train()
    assert not any(module.training for module in loss.features.modules())


def logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def test_gan_generator_loss_is_minus_log_d_of_the_fake() -> None:
    fake = torch.full((4, 1), logit(math.exp(-1.0)))
    assert GANLoss().generator(fake).item() == pytest.approx(1.0)


def test_gan_discriminator_loss_is_binary_cross_entropy_of_real_and_fake() -> None:
    real, fake = torch.full((2, 1), logit(0.8)), torch.full((2, 1), logit(0.3))
    expected = -math.log(0.8) - math.log(0.7)
    assert GANLoss().discriminator(real, fake).item() == pytest.approx(expected, rel=1e-6)
    assert GANLoss().probabilities(real, fake) == pytest.approx((0.8, 0.3))


def test_linear_gan_form_is_the_released_swift_srgan_code() -> None:
    real, fake = torch.tensor([[logit(0.9)], [logit(0.7)]]), torch.tensor([[logit(0.2)], [logit(0.4)]])
    loss = GANLoss(form="linear")
    assert loss.generator(fake).item() == pytest.approx(1 - 0.3)
    assert loss.discriminator(real, fake).item() == pytest.approx(1 - 0.8 + 0.3)


def test_a_confident_discriminator_still_gives_the_generator_its_full_gradient() -> None:
    # D(G(z)) = sigmoid(-40) rounds to 0 in a probability; from the logit, d(-log D)/dl is still -1.
    fake = torch.full((2, 1), -40.0, requires_grad=True)
    loss = GANLoss().generator(fake)
    loss.backward()
    assert loss.item() == pytest.approx(40.0, rel=1e-6)
    assert fake.grad is not None and torch.allclose(fake.grad, torch.full((2, 1), -0.5))


def test_ragan_generator_loss_is_the_discriminator_loss_with_real_and_fake_swapped() -> None:
    real, fake = torch.randn(4, 1), torch.randn(4, 1)
    loss = RelativisticAverageGANLoss()
    assert loss.generator(fake, real).item() == pytest.approx(loss.discriminator(fake, real).item())


def test_ragan_discriminator_loss_is_log_2_when_real_and_fake_look_alike() -> None:
    same = torch.full((4, 1), 0.7)
    assert RelativisticAverageGANLoss().discriminator(same, same).item() == pytest.approx(math.log(2.0))


def test_ragan_discriminator_loss_vanishes_when_real_images_are_far_more_realistic() -> None:
    loss = RelativisticAverageGANLoss()
    assert loss.discriminator(torch.full((4, 1), 20.0), torch.full((4, 1), -20.0)).item() < 1e-8
    assert loss.probabilities(torch.full((4, 1), 20.0), torch.full((4, 1), -20.0)) == pytest.approx((1.0, 0.0))


def test_ragan_generator_loss_needs_the_discriminator_output_on_real_images() -> None:
    with pytest.raises(ValueError, match="HR images"):
        RelativisticAverageGANLoss().generator(torch.zeros(2, 1))


def test_offline_imagenet_features_raise_an_error_that_names_the_explicit_choices(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*_args, **_kwargs) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsNotFoundError, match="--features random") as error:
        feature_network("mobilenet_v2", "imagenet")
    assert "--features FILE" in str(error.value) and "https://" in str(error.value)


def test_random_features_are_the_same_every_time_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    first = feature_network("mobilenet_v2", "random")
    after_first = torch.rand(1)
    torch.manual_seed(123)
    second = feature_network("mobilenet_v2", "random")
    assert torch.equal(torch.rand(1), after_first)
    assert first[1] == second[1] == "random:mobilenet_v2:seed0"
    assert all(torch.equal(a, b) for a, b in zip(first[0].state_dict().values(), second[0].state_dict().values()))


def test_feature_weights_file_is_loaded_and_recorded_with_its_hash(tmp_path) -> None:
    import torchvision

    torch.manual_seed(7)
    reference = torchvision.models.mobilenet_v2(weights=None)
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(reference.state_dict(), path)
    features, source = feature_network("mobilenet_v2", str(path))
    assert source.startswith("file:mobilenet_v2.pth:sha256:")
    assert torch.equal(features[0][0].weight, reference.features[0][0].weight)


def test_feature_file_of_another_network_is_refused(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(WeightsMismatchError, match="mobilenet_v2"):
        feature_network("mobilenet_v2", str(path))


def test_feature_source_that_is_no_known_word_nor_file_is_refused() -> None:
    with pytest.raises(WeightsNotFoundError, match="imagenet"):
        feature_network("mobilenet_v2", "imagnet")


@pytest.mark.parametrize(
    ("preset_name", "last_layer", "network"),
    [
        ("srgan", nn.ReLU, "vgg16"),  # relu5_3, after activation
        ("esrgan", nn.Conv2d, "vgg16"),  # conv5_3, before activation
        ("swiftsrgan", None, "efficientnet_lite0"),
    ],
)
def test_offline_the_gan_presets_train_on_the_packaged_imagenet_stand_ins_and_say_so(
    offline, preset_name, last_layer, network, capsys
) -> None:
    objective = GeneratorObjective(preset(preset_name))
    assert objective.features.startswith(f"packaged:{network}:") and "stand-in for" in objective.features
    assert "packaged ImageNet" in capsys.readouterr().err
    if last_layer is not None:
        stack = objective.content.features
        assert isinstance(stack[-1], last_layer) and len(stack) == 30 - (last_layer is nn.Conv2d)
    sr, hr = torch.rand(1, 3, 32, 32, requires_grad=True), torch.rand(1, 3, 32, 32)
    objective.total(objective(sr, hr)).backward()
    assert sr.grad.abs().sum() > 0


def test_packaged_features_skip_torchvision_and_take_the_lite_block_or_head_for_swiftsrgan(offline) -> None:
    _, index, source = vgg_loss_features("packaged")
    assert index == {"22": 7, "54": 28} and source.startswith("packaged:vgg16:")
    image = torch.rand(1, 3, 64, 64)
    paper, _ = mobilenet_content_loss("packaged", "paper")
    released, _ = mobilenet_content_loss("packaged", "released")
    assert paper.extract(image).shape[1] == 320 and released.extract(image).shape[1] == 1280
