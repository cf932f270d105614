"""Tiled, cached, device-aware upscaling."""

import numpy as np
import pytest
import torch
from PIL import Image

from sr_core import inference
from sr_core.device import cpu_has_native_bf16, inference_dtype
from sr_core.errors import WeightsNotFoundError
from sr_core.evaluation import evaluate_model
from sr_core.imaging import LoadedImage
from sr_core.inference import (
    DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL,
    MAX_TILE,
    MIN_TILE,
    _tile_spans,
    activation_bytes_per_lr_pixel,
    auto_tile_size,
    load_model,
    upscale_image,
    upscale_tensor,
)
from sr_core.registry import build_model
from sr_core.settings import CPU_BF16
from sr_core.weights import save_weights


def _seeded(name, **kwargs):
    torch.manual_seed(0)
    return build_model(name, **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("srresnet", {"num_block": 2, "num_feat": 8}),
        ("esrgan", {"num_block": 1, "num_feat": 8, "num_grow_ch": 4}),
        ("swiftsrgan", {"num_blocks": 2, "num_channels": 8}),
        ("srcnn", {"n1": 8, "n2": 4}),
        ("bicubic", {}),
    ],
)
def test_tiled_upscale_matches_untiled_output(name, kwargs):
    model = _seeded(name, **kwargs)
    lr = torch.rand(1, 3, 37, 50)
    whole = upscale_tensor(model, lr, tile=None)
    tiled = upscale_tensor(model, lr, tile=16, overlap=16)
    assert tiled.shape == whole.shape == (1, 3, 148, 200)
    assert (tiled - whole).abs().max().item() < 1 / 255


def test_tiles_split_each_side_into_the_fewest_equal_spans_that_fit():
    assert _tile_spans(10, 16) == [(0, 10)]
    assert _tile_spans(40, 16) == [(0, 13), (13, 27), (27, 40)]
    assert _tile_spans(32, 16) == [(0, 16), (16, 32)]
    assert _tile_spans(480, 444) == [(0, 240), (240, 480)]


def test_an_image_within_the_tile_area_runs_whole_whatever_its_shape():
    class ShapeRecorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, lr):
            self.seen.append(tuple(lr.shape[-2:]))
            return torch.nn.functional.interpolate(lr, scale_factor=4)

    network = ShapeRecorder()
    upscale_tensor(network, torch.rand(1, 3, 8, 30), tile=16)
    assert network.seen == [(8, 30)]
    upscale_tensor(network, torch.rand(1, 3, 8, 40), tile=16)
    assert len(network.seen) == 1 + 3  # 320 pixels > 16**2: three column spans of 13-14


def test_automatic_tile_size_stays_within_bounds():
    assert MIN_TILE <= auto_tile_size(torch.device("cpu")) <= MAX_TILE


def test_upscale_is_clamped_to_the_unit_range():
    out = upscale_tensor(build_model("bicubic"), torch.rand(1, 3, 9, 9))
    assert out.min() >= 0 and out.max() <= 1


def _image(height=6, width=5, alpha=False, grayscale=False):
    rng = np.random.default_rng(3)
    rgb = rng.random((height, width, 3), dtype=np.float32)
    if grayscale:
        rgb = np.repeat(rgb[..., :1], 3, axis=2)
    return LoadedImage(
        rgb=rgb,
        alpha=rng.random((height, width), dtype=np.float32) if alpha else None,
        grayscale=grayscale,
        bit_depth=8,
        notices=(),
        source_mode="RGBA" if alpha else "RGB",
    )


def test_alpha_is_upscaled_separately_and_reattached():
    result = upscale_image(_image(alpha=True), "bicubic")
    assert result.rgb.shape == (24, 20, 3)
    assert result.alpha is not None and result.alpha.shape == (24, 20)
    assert result.size == (20, 24)


def test_grey_images_come_back_grey():
    result = upscale_image(_image(grayscale=True), "nearest")
    assert result.grayscale
    assert np.allclose(result.rgb[..., 0], result.rgb[..., 2])


def test_learned_model_without_weights_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="srresnet"):
        load_model("srresnet")


def test_models_are_loaded_once_and_cached():
    assert load_model("bicubic") is load_model("bicubic")


def test_a_weights_file_is_loaded_with_its_architecture(tmp_path):
    model = _seeded("srresnet", num_block=2, num_feat=8)
    path = tmp_path / "tiny.safetensors"
    save_weights(model, path, half=False)
    loaded = load_model("srresnet", weights_file=path)
    lr = torch.rand(1, 3, 8, 8)
    assert torch.allclose(upscale_tensor(loaded.network, lr), upscale_tensor(model, lr), atol=1e-5)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("srresnet", {"num_block": 2, "num_feat": 8}), ("swiftsrgan", {"num_blocks": 2, "num_channels": 8})],
)
def test_folding_batch_norm_keeps_the_output_and_removes_every_bn_layer(name, kwargs):
    from torch import nn

    from sr_core.optimize import fold_batch_norms

    model = _seeded(name, **kwargs)
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.2, 0.2)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
    folded = fold_batch_norms(model)
    lr = torch.rand(1, 3, 12, 12)
    assert not any(isinstance(layer, nn.BatchNorm2d) for layer in folded.modules())
    assert torch.allclose(upscale_tensor(folded, lr), upscale_tensor(model, lr), atol=1e-5)


native_bf16 = pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU emulates bfloat16")


@native_bf16
def test_cpus_with_native_bf16_run_learned_models_in_bf16_unless_switched_off(monkeypatch):
    monkeypatch.setenv(CPU_BF16.name, "1")
    assert inference_dtype(torch.device("cpu")) == torch.bfloat16
    monkeypatch.setenv(CPU_BF16.name, "0")
    assert inference_dtype(torch.device("cpu")) == torch.float32


@native_bf16
def test_bf16_inference_stays_within_two_8_bit_levels_of_float32(tmp_path, monkeypatch):
    model = _seeded("srresnet", num_block=2, num_feat=8)
    path = tmp_path / "tiny.safetensors"
    save_weights(model, path, half=False)
    full = load_model("srresnet", weights_file=path)
    monkeypatch.setenv(CPU_BF16.name, "1")
    fast = load_model("srresnet", weights_file=path)
    assert (full.dtype, fast.dtype) == (torch.float32, torch.bfloat16)
    lr = torch.rand(1, 3, 16, 16)
    difference = (upscale_tensor(fast.network, lr) - upscale_tensor(full.network, lr)).abs().max().item()
    assert 0 < difference < 2 / 255


@native_bf16
def test_evaluation_scores_the_float32_network_even_where_the_app_runs_bf16(tmp_path, monkeypatch):
    model = _seeded("srresnet", num_block=2, num_feat=8)
    weights = tmp_path / "tiny.safetensors"
    save_weights(model, weights, half=False)
    hr = tmp_path / "hr.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(hr)
    full = evaluate_model("srresnet", [hr], str(weights))
    monkeypatch.setenv(CPU_BF16.name, "1")
    assert load_model("srresnet", weights_file=weights).dtype == torch.bfloat16
    assert evaluate_model("srresnet", [hr], str(weights)).psnr == full.psnr


def test_a_wider_network_is_measured_to_need_more_memory_per_pixel_and_gets_smaller_tiles(monkeypatch):
    narrow = activation_bytes_per_lr_pixel(build_model("srresnet", num_block=1), torch.float32)
    wide = activation_bytes_per_lr_pixel(build_model("srresnet", num_block=1, num_feat=256), torch.float32)
    assert narrow == DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL, "the zoo's 64 channels at x4, as the default assumes"
    assert wide == 4 * narrow
    assert activation_bytes_per_lr_pixel(build_model("srresnet", num_block=1), torch.bfloat16) == narrow // 2
    monkeypatch.setattr(inference, "available_memory_bytes", lambda device: 1 << 30)
    device = torch.device("cpu")
    assert (auto_tile_size(device, narrow), auto_tile_size(device, wide)) == (104, 52)
