"""Inference-time rewrites that keep a network's function and make it cheaper to run.

Batch norm in eval mode is an affine map per channel, so a conv followed by BN is one conv
with rescaled weights and a new bias. Folding removes a full read and write of every
feature map behind a BN layer (SRResNet has 33, Swift-SRGAN 34).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to ``bn(conv(x))`` for a BN layer in eval mode."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    conv_bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight.detach() * scale.view(-1, 1, 1, 1))
        folded.bias.copy_((conv_bias - bn.running_mean) * scale + bn.bias.detach())
    return folded


def _separable_pointwise(module: nn.Module) -> nn.Conv2d | None:
    """The pointwise half of a depthwise-separable conv: the last linear step before its BN."""
    pointwise = getattr(module, "pointwise", None)
    return pointwise if isinstance(pointwise, nn.Conv2d) else None


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every conv -> BN pair folded into one conv.

    Pairs are found by attribute naming used across the zoo: ``convN``/``bnN`` siblings,
    ``conv_body``/``bn_body``, and ``cnn``/``bn`` (Swift-SRGAN's blocks). Folded BN layers
    become ``nn.Identity``. Models without BN come back unchanged (as a copy).
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        for name, child in list(module.named_children()):
            if not isinstance(child, nn.BatchNorm2d):
                continue
            conv_name = {"bn": "cnn", "bn_body": "conv_body"}.get(name, name.replace("bn", "conv", 1))
            conv = getattr(module, conv_name, None)
            if isinstance(conv, nn.Conv2d):
                setattr(module, conv_name, fold_conv_bn(conv, child))
            elif conv is not None and (pointwise := _separable_pointwise(conv)) is not None:
                conv.pointwise = fold_conv_bn(pointwise, child)
            else:
                continue
            setattr(module, name, nn.Identity())
    return folded
