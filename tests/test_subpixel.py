"""Checkerboard-free sub-pixel upsamplers: tied phases turn a flat image into a flat image."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_ARCH_KWARGS

from sr_core.models.subpixel import phase_gain_spread, subpixel_convs, tie_subpixel_phases_
from sr_core.registry import build_model, get_spec

SUBPIXEL_MODELS = ["srresnet", "swiftsrgan"]


def tiny(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name, **TINY_ARCH_KWARGS[get_spec(name).architecture]).eval()
    for layer in model.modules():  # give the BNs' running statistics and the PReLUs values a trained model has
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.2, 0.2)
        if isinstance(layer, torch.nn.PReLU):
            layer.weight.data.uniform_(0.0, 0.5)
    return model


def flat_response_range(model: torch.nn.Module) -> float:
    """The largest per-channel range of ``model``'s output, away from the borders, for a flat grey LR image."""
    with torch.no_grad():
        out = model(torch.full((1, 3, 40, 40), 0.4))
    centre = out[..., 64:96, 64:96]
    return float((centre.amax(dim=(-2, -1)) - centre.amin(dim=(-2, -1))).max())


@pytest.mark.parametrize("name", SUBPIXEL_MODELS)
def test_untied_phases_turn_a_flat_image_into_a_periodic_pattern_and_tied_ones_do_not(name: str) -> None:
    model = tiny(name)
    untied = flat_response_range(model)
    assert tie_subpixel_phases_(model) == 2  # two x2 stages make x4
    tied = flat_response_range(model)
    print(f"{name}: flat-image output range {untied:.4f} untied, {tied:.2e} tied")
    assert untied > 1e-3
    assert tied < 1e-5


@pytest.mark.parametrize("name", SUBPIXEL_MODELS)
def test_tying_keeps_each_channels_mean_gain_and_bias_and_changes_nothing_twice(name: str) -> None:
    model = tiny(name)
    conv, factor = subpixel_convs(model)[0]
    phases = factor * factor
    mean_gain = conv.weight.sum(dim=(-2, -1)).view(-1, phases, conv.in_channels).mean(dim=1).clone()
    mean_bias = conv.bias.view(-1, phases).mean(dim=1).clone()
    assert phase_gain_spread(model) > 1e-3
    tie_subpixel_phases_(model)
    assert phase_gain_spread(model) < 1e-6
    gains = conv.weight.sum(dim=(-2, -1)).view(-1, phases, conv.in_channels)
    torch.testing.assert_close(gains.mean(dim=1), mean_gain)
    torch.testing.assert_close(conv.bias.view(-1, phases).mean(dim=1), mean_bias)
    once = {key: value.clone() for key, value in model.state_dict().items()}
    tie_subpixel_phases_(model)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, once[key])


def test_swift_srgans_separable_upsampler_is_tied_through_its_pointwise_half() -> None:
    model = tiny("swiftsrgan")
    assert [conv for conv, _ in subpixel_convs(model)] == [stage.conv.pointwise for stage in model.upsampler]


def test_a_network_without_pixel_shuffle_has_nothing_to_tie() -> None:
    model = build_model("esrgan", **TINY_ARCH_KWARGS["rrdbnet"])
    assert tie_subpixel_phases_(model) == 0
    assert phase_gain_spread(model) == 0.0
