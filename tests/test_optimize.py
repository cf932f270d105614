"""Inference-time rewrites give the network's own output, only cheaper (speed itself lives in the benchmark)."""

import pytest
import torch
from torch import nn

from sr_core.models.swiftsrgan import SeparableConv2d
from sr_core.optimize import dense_equivalent, fold_subpixel_tail, inference_form, polyphase_conv
from sr_core.registry import build_model


def _with_random_slopes(model: nn.Module) -> nn.Module:
    """Trained PReLUs are not the 0.25 they start at; a rewrite must carry every slope."""
    torch.manual_seed(0)
    for layer in model.modules():
        if isinstance(layer, nn.PReLU):
            layer.weight.data.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize(("kernel", "factor"), [(3, 2), (9, 2), (5, 3), (1, 2)])
def test_a_polyphase_conv_then_shuffle_equals_the_conv_after_the_shuffle(kernel, factor):
    torch.manual_seed(kernel)
    conv = nn.Conv2d(4, 3, kernel, padding=kernel // 2)
    low_res = torch.randn(1, 4 * factor**2, 7, 9)
    shuffle = nn.PixelShuffle(factor)
    with torch.no_grad():
        expected = conv(shuffle(low_res))
        folded = shuffle(polyphase_conv(conv, factor)(low_res))
    assert folded.shape == expected.shape
    assert torch.allclose(folded, expected, atol=1e-5)


def test_a_strided_conv_does_not_fold_through_a_shuffle():
    with pytest.raises(TypeError, match="stride-1"):
        polyphase_conv(nn.Conv2d(4, 3, 3, stride=2, padding=1), 2)


def test_a_separable_conv_multiplied_out_is_one_dense_conv_with_the_same_output():
    torch.manual_seed(0)
    separable = SeparableConv2d(6, 3, 9, padding=4)
    image = torch.randn(1, 6, 11, 13)
    dense = dense_equivalent(separable)
    assert isinstance(dense, nn.Conv2d) and dense.groups == 1 and dense.weight.shape == (3, 6, 9, 9)
    with torch.no_grad():
        assert torch.allclose(dense(image), separable(image), atol=1e-5)


@pytest.mark.parametrize(
    ("name", "kwargs", "last_conv"),
    [
        ("srresnet", {"num_block": 1, "num_feat": 8}, "conv_last"),
        ("swiftsrgan", {"num_blocks": 1, "num_channels": 8}, "final_conv"),
    ],
)
def test_the_last_conv_of_a_subpixel_network_runs_before_the_shuffle_with_the_same_output(name, kwargs, last_conv):
    model = _with_random_slopes(build_model(name, **kwargs))
    folded = fold_subpixel_tail(model)
    polyphase, shuffle = getattr(folded, last_conv)
    assert isinstance(polyphase, nn.Conv2d) and polyphase.out_channels == 3 * 4
    assert isinstance(shuffle, nn.PixelShuffle)
    lr = torch.rand(1, 3, 13, 17)
    with torch.no_grad():
        assert torch.allclose(folded(lr), model(lr), atol=1e-5)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("esrgan", {"num_block": 1, "num_feat": 8, "num_grow_ch": 4}), ("srcnn", {})]
)
def test_networks_without_a_subpixel_tail_are_left_as_they_are(name, kwargs):
    model = build_model(name, **kwargs).eval()
    folded = fold_subpixel_tail(model)
    assert [type(layer) for layer in folded.modules()] == [type(layer) for layer in model.modules()]


def test_the_inference_form_is_frozen_channels_last_and_in_the_asked_precision():
    model = _with_random_slopes(build_model("swiftsrgan", num_blocks=1, num_channels=8))
    network = inference_form(model, torch.device("cpu"), torch.bfloat16)
    assert not network.training
    assert all(p.dtype == torch.bfloat16 and not p.requires_grad for p in network.parameters())
    assert all(
        conv.weight.is_contiguous(memory_format=torch.channels_last)
        for conv in network.modules()
        if isinstance(conv, nn.Conv2d) and conv.kernel_size != (1, 1)
    )
    assert not any(isinstance(layer, nn.BatchNorm2d) for layer in network.modules())
