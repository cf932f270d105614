"""Batch-norm statistics and the losses that match them (ZS-CGAN's KL, GDFQ's moment MSE)."""

import copy

import pytest
import torch
from quant_helpers import give_batch_norm_statistics
from torch import nn
from torch.distributions import Normal, kl_divergence

from sr_core.errors import QuantSettingError
from sr_core.quant.bns import bns_loss, forward_with_moments, gaussian_kl, moment_mse

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _conv_bn_net() -> nn.Module:
    return give_batch_norm_statistics(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.BatchNorm2d(5))
    )


def test_gaussian_kl_matches_torch_distributions():
    mean_hat, var_hat = torch.tensor([0.3, -1.0]), torch.tensor([0.5, 2.0])
    mean, var = torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.7])
    expected = kl_divergence(Normal(mean_hat, var_hat.sqrt()), Normal(mean, var.sqrt()))
    assert torch.allclose(gaussian_kl(mean_hat, var_hat, mean, var), expected, atol=1e-6)


def test_gaussian_kl_is_zero_only_when_both_moments_match():
    mean, var = torch.tensor([0.2]), torch.tensor([1.5])
    assert gaussian_kl(mean, var, mean, var).item() == pytest.approx(0.0, abs=1e-7)
    assert gaussian_kl(mean + 0.1, var, mean, var).item() > 0
    assert gaussian_kl(mean, var * 1.2, mean, var).item() > 0


def test_moment_mse_is_gdfqs_squared_errors_of_mean_and_variance():
    value = moment_mse(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 3.0]), torch.zeros(2), torch.ones(2))
    assert value.item() == pytest.approx((1 + 0) / 2 + (0 + 4) / 2)


def test_forward_with_moments_measures_each_batch_norm_input():
    network = _conv_bn_net()
    images = torch.randn(6, 3, 9, 9)
    output, moments = forward_with_moments(network, images)
    first_input = network[0](images)
    assert torch.equal(output, network(images))
    assert [entry.layer for entry in moments] == [network[1], network[4]]
    assert torch.allclose(moments[0].mean, first_input.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(moments[0].var, first_input.var(dim=(0, 2, 3), unbiased=False), atol=1e-5)


def test_forward_with_moments_can_stop_at_the_last_batch_norm_and_leaves_no_hooks_behind():
    network = nn.Sequential(*_conv_bn_net(), nn.Conv2d(5, 2, 1))
    output, moments = forward_with_moments(network, torch.randn(2, 3, 9, 9), stop_after_last=True)
    assert output is None and len(moments) == 2
    assert all(not layer._forward_hooks for layer in network.modules())
    copy.deepcopy(network)


def test_bns_loss_gradient_moves_inputs_towards_the_stored_statistics():
    network = _conv_bn_net()
    images = torch.randn(8, 3, 9, 9, requires_grad=True)
    optimizer = torch.optim.Adam([images], lr=0.05)
    losses = []
    for _ in range(30):
        loss = bns_loss(forward_with_moments(network, images)[1], "kl")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_a_network_without_batch_norm_is_refused_with_a_typed_error():
    with pytest.raises(QuantSettingError, match="BatchNorm2d"):
        forward_with_moments(nn.Conv2d(3, 3, 1), torch.randn(1, 3, 4, 4))
