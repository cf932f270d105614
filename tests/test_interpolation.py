"""Network interpolation (blended parameters) and image interpolation (blended pixels)."""

import numpy as np
import pytest
import torch

from sr_core.errors import WeightsMismatchError, WeightsNotFoundError
from sr_core.imaging import make_lr, to_float
from sr_core.inference import load_model
from sr_core.interpolation import (
    IMAGE,
    NETWORK,
    blend_images,
    interpolate_outputs,
    interpolate_state_dicts,
    interpolated_model,
    interpolation_pairs,
    perception_distortion_curve,
    round_alpha,
    run_network,
)
from sr_core.registry import build_model
from sr_core.weights import save_weights


def _state(seed, **kwargs):
    torch.manual_seed(seed)
    return build_model("srresnet", num_block=1, num_feat=8, **kwargs).state_dict()


def test_interpolated_parameters_are_the_weighted_mean_of_both_models():
    psnr, gan = _state(0), _state(1)
    blended = interpolate_state_dicts(psnr, gan, 0.3)
    key = "conv_first.weight"
    assert torch.allclose(blended[key], 0.7 * psnr[key] + 0.3 * gan[key], atol=1e-6)


def test_alpha_zero_and_one_give_back_the_two_models():
    psnr, gan = _state(0), _state(1)
    assert all(torch.equal(interpolate_state_dicts(psnr, gan, 0.0)[k], psnr[k]) for k in psnr)
    assert all(torch.allclose(interpolate_state_dicts(psnr, gan, 1.0)[k].float(), gan[k].float()) for k in psnr)


def test_integer_buffers_are_copied_not_blended():
    psnr, gan = _state(0), _state(1)
    counter = next(key for key in psnr if key.endswith("num_batches_tracked"))
    psnr[counter], gan[counter] = torch.tensor(10), torch.tensor(1000)
    blended = interpolate_state_dicts(psnr, gan, 0.5)
    assert blended[counter].dtype == torch.int64 and blended[counter].item() == 10


def test_interpolation_does_not_modify_its_inputs():
    psnr, gan = _state(0), _state(1)
    before = {key: tensor.clone() for key, tensor in psnr.items()}
    interpolate_state_dicts(psnr, gan, 0.5)
    assert all(torch.equal(psnr[key], before[key]) for key in before)


def test_state_dicts_of_different_sizes_are_refused_naming_the_keys():
    with pytest.raises(WeightsMismatchError, match="body.1"):
        interpolate_state_dicts(_state(0), build_model("srresnet", num_block=2, num_feat=8).state_dict(), 0.5)
    with pytest.raises(WeightsMismatchError, match="different shapes"):
        interpolate_state_dicts(_state(0), build_model("srresnet", num_block=1, num_feat=16).state_dict(), 0.5)


def test_alpha_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        interpolate_state_dicts(_state(0), _state(1), 1.5)


def test_every_gan_is_paired_with_the_psnr_model_of_its_architecture():
    assert set(interpolation_pairs()) == {
        ("srresnet", "srgan"),
        ("esrgan_psnr", "esrgan"),
        ("swiftsrgan_psnr", "swiftsrgan"),
    }


def test_alpha_is_rounded_to_the_cache_step():
    assert round_alpha(0.33) == 0.35
    assert round_alpha(0.98, step=0.2) == 1.0
    assert round_alpha(0.0) == 0.0


@pytest.mark.parametrize(
    ("psnr", "gan"), [("esrgan_psnr", "esrgan"), ("srresnet", "srgan"), ("swiftsrgan_psnr", "swiftsrgan")]
)
def test_interpolated_model_runs_for_every_pair_and_matches_its_endpoints(tiny_weights, psnr, gan):
    tiny_weights(psnr, gan)
    lr = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    at_zero = run_network(interpolated_model(psnr, gan, 0.0), lr)
    at_one = run_network(interpolated_model(psnr, gan, 1.0), lr)
    assert at_zero.shape == (32, 32, 3)
    assert np.abs(at_zero - run_network(load_model(psnr).network, lr)).max() < 1e-4
    assert np.abs(at_one - run_network(load_model(gan).network, lr)).max() < 1e-4


def test_any_two_checkpoint_files_of_one_architecture_can_be_interpolated(tmp_path, tiny_weights):
    files = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        files.append(tmp_path / f"checkpoint{seed}.safetensors")
        save_weights(build_model("srgan", num_block=1, num_feat=8), files[-1])
    network = interpolated_model("srresnet", "srgan", 0.5, psnr_weights=str(files[0]), gan_weights=str(files[1]))
    assert run_network(network, np.zeros((4, 4, 3), np.float32)).shape == (16, 16, 3)


def test_interpolated_model_is_cached_per_alpha_step(tiny_weights):
    tiny_weights("esrgan_psnr", "esrgan")
    assert interpolated_model("esrgan_psnr", "esrgan", 0.51) is interpolated_model("esrgan_psnr", "esrgan", 0.49)
    assert interpolated_model("esrgan_psnr", "esrgan", 0.5) is not interpolated_model("esrgan_psnr", "esrgan", 0.6)


def test_models_of_different_architectures_are_refused_before_loading(tiny_weights):
    with pytest.raises(WeightsMismatchError, match="one architecture"):
        interpolated_model("srresnet", "esrgan", 0.5)
    with pytest.raises(WeightsMismatchError, match="no parameters"):
        interpolated_model("bicubic", "esrgan", 0.5)


def test_models_of_one_architecture_with_different_sizes_are_refused(tiny_weights):
    tiny_weights("srcnn", "srcnn_935")
    with pytest.raises(WeightsMismatchError, match="f2=5 vs 3"):
        interpolated_model("srcnn", "srcnn_935", 0.5)


def test_interpolating_a_model_without_weights_says_so(tiny_weights):
    tiny_weights("esrgan_psnr")
    with pytest.raises(WeightsNotFoundError, match="esrgan"):
        interpolated_model("esrgan_psnr", "esrgan", 0.5)


def test_image_blend_is_the_weighted_mean_of_the_pixels():
    first, second = np.zeros((2, 2, 3), np.float32), np.ones((2, 2, 3), np.float32)
    assert np.allclose(blend_images(first, second, 0.25), 0.25)
    with pytest.raises(ValueError, match="shapes"):
        blend_images(first, np.ones((3, 2, 3), np.float32), 0.5)


def test_interpolated_outputs_agree_at_the_endpoints(tiny_weights):
    tiny_weights("esrgan_psnr", "esrgan")
    lr = np.random.default_rng(1).random((6, 7, 3), dtype=np.float32)
    outputs = interpolate_outputs(lr, "esrgan_psnr", "esrgan", 1.0)
    assert outputs.network.shape == outputs.image.shape == (24, 28, 3)
    assert np.abs(outputs.network - outputs.image).max() < 1e-4


def test_perception_distortion_curve_has_both_methods_at_every_alpha(tiny_weights):
    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    hr = (np.random.default_rng(2).random((32, 32, 3)) * 255).astype(np.uint8)
    hr, lr = make_lr(hr, 4)
    curve = perception_distortion_curve(to_float(lr), hr, "swiftsrgan_psnr", "swiftsrgan", alphas=(0.0, 0.5, 1.0))
    assert list(curve.columns) == ["alpha", "interpolation", "psnr", "ssim", "lpips"]
    assert len(curve) == 6 and set(curve["interpolation"]) == {NETWORK, IMAGE}
    for metric, tolerance in (("psnr", 0.05), ("lpips", 1e-3)):
        endpoints = curve[curve["alpha"].isin([0.0, 1.0])].pivot(index="alpha", columns="interpolation", values=metric)
        assert np.allclose(endpoints[NETWORK], endpoints[IMAGE], atol=tolerance)


def test_the_curves_lpips_is_each_outputs_alexnet_lpips_against_the_hr(tiny_weights):
    from sr_core.imaging import to_uint8
    from sr_core.lpips import lpips_distance

    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    hr, lr = make_lr((np.random.default_rng(2).random((32, 36, 3)) * 255).astype(np.uint8), 4)
    curve = perception_distortion_curve(to_float(lr), hr, "swiftsrgan_psnr", "swiftsrgan", alphas=(0.5,))
    outputs = interpolate_outputs(to_float(lr), "swiftsrgan_psnr", "swiftsrgan", 0.5)
    expected = [lpips_distance(to_float(to_uint8(output)), to_float(hr)) for output in (outputs.network, outputs.image)]
    assert curve["lpips"].tolist() == pytest.approx(expected, abs=1e-6)
    assert curve["lpips"].tolist()[0] != pytest.approx(expected[1], abs=1e-6)


def test_without_lpips_the_curve_keeps_psnr_and_ssim_and_leaves_lpips_empty(tiny_weights, lpips_missing):
    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    hr, lr = make_lr((np.random.default_rng(2).random((32, 32, 3)) * 255).astype(np.uint8), 4)
    curve = perception_distortion_curve(to_float(lr), hr, "swiftsrgan_psnr", "swiftsrgan", alphas=(0.0, 1.0))
    assert curve["lpips"].isna().all() and curve["psnr"].notna().all() and curve["ssim"].notna().all()
