"""Batch-norm statistics (BNS): what a trained network remembers of its data, and losses that match it.

Each ``BatchNorm2d`` of a trained network stores the running mean and variance of its input
over the training data. Feeding a batch of synthetic inputs and measuring the same two moments
per channel tells how far the batch is from the data; ZS-CGAN's L_BNS sums, over layers l and
channels c, the KL divergence between the Gaussians N(mu_hat, var_hat) of the batch and
N(mu, var) stored in the layer. GDFQ (Xu et al. 2020) uses the mean squared error of the
moments instead; it is kept as an ablation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from sr_core.errors import QuantSettingError

BnsForm = Literal["kl", "mse"]
# Floor on variances: a channel that is constant over the batch must not give log(0) or 1/0.
VARIANCE_FLOOR = 1e-5


@dataclass(frozen=True, eq=False)
class LayerMoments:
    """Per-channel mean and (biased) variance of one BN layer's input over a batch, and the layer."""

    layer: nn.BatchNorm2d
    mean: torch.Tensor
    var: torch.Tensor


def gaussian_kl(mean_hat: torch.Tensor, var_hat: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_hat, var_hat) || N(mean, var)) element-wise: the paper's D_N.

    ((mean_hat - mean)^2 + var_hat) / (2 var) - log(sigma_hat / sigma) - 1/2; zero exactly when
    both moments match, and it weighs a channel's error by that channel's own spread.
    """
    var_hat, var = var_hat.clamp_min(VARIANCE_FLOOR), var.clamp_min(VARIANCE_FLOOR)
    return ((mean_hat - mean) ** 2 + var_hat) / (2.0 * var) - 0.5 * torch.log(var_hat / var) - 0.5


def moment_mse(mean_hat: torch.Tensor, var_hat: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """GDFQ's form: mean over channels of the squared errors of the mean and of the variance."""
    return ((mean_hat - mean) ** 2).mean() + ((var_hat - var) ** 2).mean()


def bns_loss(moments: list[LayerMoments], form: BnsForm = "kl") -> torch.Tensor:
    """L_BNS of one batch: the KL summed over every layer and channel (``kl``), or GDFQ's MSE summed over layers."""
    if not moments:
        raise QuantSettingError("the network has no BatchNorm2d layer, so there are no statistics to match")
    total = torch.zeros((), device=moments[0].mean.device)
    for entry in moments:
        stored_mean, stored_var = entry.layer.running_mean, entry.layer.running_var
        if stored_mean is None or stored_var is None:
            raise QuantSettingError("a BatchNorm2d layer without running statistics has nothing to match")
        if form == "kl":
            total = total + gaussian_kl(entry.mean, entry.var, stored_mean, stored_var).sum()
        else:
            total = total + moment_mse(entry.mean, entry.var, stored_mean, stored_var)
    return total


class _ForwardStopped(Exception):
    """Raised by the last BN layer's hook to skip the rest of a forward pass nobody needs."""


def batch_norm_layers(network: nn.Module) -> list[nn.BatchNorm2d]:
    """Every ``BatchNorm2d`` of ``network``; a :class:`QuantSettingError` when there is none to match."""
    layers = [module for module in network.modules() if isinstance(module, nn.BatchNorm2d)]
    if not layers:
        raise QuantSettingError(f"{type(network).__name__} has no BatchNorm2d layer: BNS matching needs one")
    return layers


def forward_with_moments(
    network: nn.Module, inputs: torch.Tensor, stop_after_last: bool = False
) -> tuple[torch.Tensor | None, list[LayerMoments]]:
    """(``network(inputs)``, the input moments of each of its BN layers in call order), differentiable in ``inputs``.

    The hooks live only during this call, so the network can be copied or exported between
    calls. With ``stop_after_last`` the pass ends at the last BN layer and the output is None:
    matching an SR generator's statistics then skips its upsampling stages, most of its cost.
    """
    layers = batch_norm_layers(network)
    moments: list[LayerMoments] = []

    def record(layer: nn.BatchNorm2d, layer_inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        var, mean = torch.var_mean(layer_inputs[0], dim=(0, 2, 3), correction=0)
        moments.append(LayerMoments(layer, mean, var))
        if stop_after_last and len(moments) == len(layers):
            raise _ForwardStopped

    handles = [layer.register_forward_hook(record) for layer in layers]
    try:
        output = network(inputs)
    except _ForwardStopped:
        output = None
    finally:
        for handle in handles:
            handle.remove()
    return output, moments
