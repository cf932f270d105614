"""Inference-time rewrites that keep a network's function and make it cheaper to run.

Batch norm in eval mode is an affine map per channel, so a conv followed by BN is one conv
with rescaled weights and a new bias. Folding removes a full read and write of every
feature map behind a BN layer (SRResNet has 33, Swift-SRGAN 34).

The last conv of a sub-pixel network reads the output of ``PixelShuffle`` and PReLU: a
64-channel map at full output resolution (265 MB in bf16 at 1080p), written, read back and
convolved with a 9x9 kernel. Because the shuffle only moves pixels and PReLU acts per pixel,
the same result comes from running PReLU before the shuffle and a polyphase conv on the
low-resolution map, then shuffling its few output channels: :func:`fold_subpixel_tail`.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from sr_core.registry import all_families


def pair(value: tuple[int, ...] | str) -> tuple[int, int]:
    """A 2-D conv's (height, width) attribute as the constructor takes it back."""
    if isinstance(value, str) or len(value) != 2:
        raise TypeError(f"expected a 2-D size, not {value!r}")
    return value[0], value[1]


def with_bias(conv: nn.Conv2d) -> torch.Tensor:
    """The bias of a conv built with ``bias=True`` (every conv these rewrites create)."""
    if conv.bias is None:
        raise TypeError("the conv has no bias")
    return conv.bias


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to ``bn(conv(x))`` for a BN layer in eval mode (one that tracked running statistics)."""
    if bn.running_mean is None or bn.running_var is None:
        raise TypeError("only a batch norm with running statistics folds into its conv")
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        pair(conv.kernel_size),
        pair(conv.stride),
        pair(conv.padding),
        pair(conv.dilation),
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    conv_bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight.detach() * scale.view(-1, 1, 1, 1))
        with_bias(folded).copy_((conv_bias - bn.running_mean) * scale + bn.bias.detach())
    return folded


def _separable_pointwise(module: nn.Module) -> nn.Conv2d | None:
    """The pointwise half of a depthwise-separable conv: the last linear step before its BN."""
    pointwise = getattr(module, "pointwise", None)
    return pointwise if isinstance(pointwise, nn.Conv2d) else None


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every conv -> BN pair folded into one conv.

    Pairs are ``convN``/``bnN`` siblings, or what a model family declares (``bn_convs``: SRResNet's
    ``conv_body``/``bn_body``, Swift-SRGAN's ``cnn``/``bn``). Folded BN layers become
    ``nn.Identity``. Models without BN come back unchanged (as a copy).
    """
    declared = {bn: conv for family in all_families() for bn, conv in family.bn_convs.items()}
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        for name, child in list(module.named_children()):
            if not isinstance(child, nn.BatchNorm2d):
                continue
            conv_name = declared.get(name, name.replace("bn", "conv", 1))
            conv = getattr(module, conv_name, None)
            if isinstance(conv, nn.Conv2d):
                setattr(module, conv_name, fold_conv_bn(conv, child))
            elif conv is not None and (pointwise := _separable_pointwise(conv)) is not None:
                conv.pointwise = fold_conv_bn(pointwise, child)
            else:
                continue
            setattr(module, name, nn.Identity())
    return folded


def dense_equivalent(conv: nn.Module) -> nn.Conv2d:
    """``conv`` as one ordinary conv: itself, or a depthwise-separable pair multiplied out.

    ``pointwise(depthwise(x))`` has weight ``P[o, c] * D[c]`` and bias ``P @ b_depthwise + b_pointwise``.
    Raises TypeError for anything else.
    """
    if isinstance(conv, nn.Conv2d) and conv.groups == 1:
        return conv
    depthwise, pointwise = getattr(conv, "depthwise", None), getattr(conv, "pointwise", None)
    if not (
        isinstance(depthwise, nn.Conv2d)
        and isinstance(pointwise, nn.Conv2d)
        and depthwise.groups == depthwise.in_channels == depthwise.out_channels
    ):
        raise TypeError(f"{type(conv).__name__} is neither a conv nor a depthwise-separable pair")
    mixing = pointwise.weight.detach()[:, :, 0, 0]
    dense = nn.Conv2d(
        depthwise.in_channels,
        pointwise.out_channels,
        pair(depthwise.kernel_size),
        pair(depthwise.stride),
        pair(depthwise.padding),
        bias=True,
    ).to(device=mixing.device, dtype=mixing.dtype)
    depthwise_bias = depthwise.bias.detach() if depthwise.bias is not None else torch.zeros_like(mixing[0])
    pointwise_bias = pointwise.bias.detach() if pointwise.bias is not None else torch.zeros_like(mixing[:, 0])
    with torch.no_grad():
        dense.weight.copy_(mixing[:, :, None, None] * depthwise.weight.detach()[:, 0][None])
        with_bias(dense).copy_(mixing @ depthwise_bias + pointwise_bias)
    return dense


def polyphase_conv(conv: nn.Conv2d, factor: int) -> nn.Conv2d:
    """A conv on the input of ``PixelShuffle(factor)`` whose shuffled output equals ``conv`` on the shuffled input.

    ``conv`` (stride 1, "same" padding p, odd kernel k) reads ``x = shuffle(a)``: output pixel
    ``(factor*i + e, ...)`` sees ``x[factor*i + e + u]`` for ``|u| <= p``, which is pixel
    ``i + (e + u) // factor`` of channel phase ``(e + u) % factor`` of ``a``. Gathering those taps
    gives a conv from ``C * factor**2`` to ``O * factor**2`` channels with a kernel of about
    ``k / factor`` taps, whose zero padding on ``a`` is exactly the zero padding on ``x``.
    """
    if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding_mode != "zeros":
        raise TypeError("only a plain stride-1 conv folds through a pixel shuffle")
    (kernel_h, kernel_w), (pad_h, pad_w) = pair(conv.kernel_size), pair(conv.padding)
    if kernel_h != 2 * pad_h + 1 or kernel_w != 2 * pad_w + 1:
        raise TypeError("only a 'same' conv folds through a pixel shuffle")
    reach_h, reach_w = math.ceil(pad_h / factor), math.ceil(pad_w / factor)
    weight = conv.weight.detach()
    out_channels, in_channels = weight.shape[:2]
    folded_weight = weight.new_zeros(
        out_channels, factor, factor, in_channels, factor, factor, 2 * reach_h + 1, 2 * reach_w + 1
    )
    for out_row in range(factor):
        for u in range(-pad_h, pad_h + 1):
            tap_row, in_row = divmod(out_row + u, factor)
            for out_col in range(factor):
                for v in range(-pad_w, pad_w + 1):
                    tap_col, in_col = divmod(out_col + v, factor)
                    folded_weight[:, out_row, out_col, :, in_row, in_col, tap_row + reach_h, tap_col + reach_w] = (
                        weight[:, :, u + pad_h, v + pad_w]
                    )
    folded = nn.Conv2d(
        in_channels * factor**2,
        out_channels * factor**2,
        (2 * reach_h + 1, 2 * reach_w + 1),
        padding=(reach_h, reach_w),
        bias=True,
    ).to(device=weight.device, dtype=weight.dtype)
    bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(out_channels)
    with torch.no_grad():
        folded.weight.copy_(folded_weight.reshape(folded.weight.shape))
        with_bias(folded).copy_(bias.repeat_interleave(factor**2))
    return folded


def _prelu_before_shuffle(act: nn.PReLU, factor: int) -> nn.PReLU:
    """The PReLU that, applied before ``PixelShuffle(factor)``, equals ``act`` applied after it."""
    slopes = act.weight.detach()
    if slopes.numel() == 1:
        return copy.deepcopy(act)
    before = nn.PReLU(slopes.numel() * factor**2).to(device=slopes.device, dtype=slopes.dtype)
    with torch.no_grad():
        before.weight.copy_(slopes.repeat_interleave(factor**2))
    return before


def fold_subpixel_tail(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose last shuffle -> PReLU -> conv runs at the resolution before the shuffle.

    Applies to the families that declare a ``subpixel_tail`` (SRResNet/SRGAN, Swift-SRGAN with its
    separable last conv); other models come back unchanged (as a copy). The model's
    forward stays as written: the last upsampling block loses its shuffle and gets the
    expanded PReLU, and the last conv becomes the polyphase conv followed by the shuffle.
    """
    folded = copy.deepcopy(model).eval()
    tails = [family.subpixel_tail for family in all_families() if family.subpixel_tail is not None]
    for upsampler_name, last_conv_name, shuffle_name in ((t.upsampler, t.last_conv, t.shuffle) for t in tails):
        upsampler, last_conv = getattr(folded, upsampler_name, None), getattr(folded, last_conv_name, None)
        if not isinstance(upsampler, nn.Sequential) or last_conv is None or len(upsampler) == 0:
            continue
        block = upsampler[-1]
        shuffle, act = getattr(block, shuffle_name, None), getattr(block, "act", None)
        if not isinstance(shuffle, nn.PixelShuffle) or not isinstance(act, nn.PReLU):
            continue
        factor = shuffle.upscale_factor
        setattr(block, shuffle_name, nn.Identity())
        block.act = _prelu_before_shuffle(act, factor)
        setattr(
            folded,
            last_conv_name,
            nn.Sequential(polyphase_conv(dense_equivalent(last_conv), factor), nn.PixelShuffle(factor)),
        )
    return folded


def inference_form(model: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """How every inference path runs ``model``: rewrites applied, on ``device`` in ``dtype``, channels_last, frozen."""
    network = fold_subpixel_tail(fold_batch_norms(model))
    network = network.to(device=device, dtype=dtype).to(memory_format=torch.channels_last).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network
