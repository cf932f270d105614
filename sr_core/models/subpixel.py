"""Checkerboard-free sub-pixel convolution: every phase of an upsampler answers a flat input alike.

Why the GAN stages stripe: a sub-pixel layer (conv to r^2 x channels, ``PixelShuffle(r)``) computes
each of the r x r output phases with its own kernel and bias. If two phases differ in DC gain (the
sum of a kernel's taps, per input channel) or in bias, a flat region comes out as a fixed pattern
of period r (and r^2 over two x2 stages): the stripes the stripe score measures. Nothing in a
perceptual or adversarial loss ties the phases, and a per-phase offset is the cheapest texture the
generator can add, so the GAN stage grows exactly that. Sugawara, Shiota and Kiya ("Checkerboard
artifacts free convolutional neural networks", 2019) show the cure is structural: an upsampler is
free of checkerboard artefacts when its phases have equal DC gains.

:func:`tie_subpixel_phases_` projects a network onto that set (the least change in each kernel:
the difference to the phases' mean gain is spread over its taps, and each channel's phases share
the mean bias). Training repeats it after every generator step (``TrainConfig.tie_subpixel_phases``),
so the weights stay plain SRGAN / Swift-SRGAN weights that any implementation runs. Texture a
phase adds from the image's local structure (the zero-mean part of its kernel) is untouched.
"""

from __future__ import annotations

import torch
from torch import nn


def subpixel_convs(model: nn.Module) -> list[tuple[nn.Conv2d, int]]:
    """Each conv that feeds a ``PixelShuffle`` in ``model`` with the shuffle's factor.

    The feeding conv is the last ``nn.Conv2d`` among the siblings before the shuffle: the conv of
    SRResNet's upsampler, the pointwise half of Swift-SRGAN's separable one (its depthwise half is
    shared by every phase, so the pointwise weights alone tell the phases apart).
    """
    found = []
    for module in model.modules():
        children = list(module.children())
        for index, child in enumerate(children):
            if not isinstance(child, nn.PixelShuffle):
                continue
            convs = [
                layer for sibling in children[:index] for layer in sibling.modules() if isinstance(layer, nn.Conv2d)
            ]
            if convs:
                found.append((convs[-1], child.upscale_factor))
    return found


@torch.no_grad()
def tie_conv_phases_(conv: nn.Conv2d, factor: int) -> None:
    """Give the ``factor**2`` phases of every shuffled channel of ``conv`` the same DC gain per input channel and bias.

    Output channel ``c * factor**2 + p`` is phase ``p`` of shuffled channel ``c`` (PyTorch's
    ``PixelShuffle`` order).
    """
    phases = factor * factor
    weight = conv.weight.view(conv.out_channels // phases, phases, *conv.weight.shape[1:])
    gains = weight.sum(dim=(-2, -1), keepdim=True)
    taps = conv.weight.shape[-2] * conv.weight.shape[-1]
    weight += (gains.mean(dim=1, keepdim=True) - gains) / taps
    if conv.bias is not None:
        bias = conv.bias.view(-1, phases)
        bias.copy_(bias.mean(dim=1, keepdim=True).expand_as(bias))


def tie_subpixel_phases_(model: nn.Module) -> int:
    """Make every sub-pixel upsampler of ``model`` checkerboard-free in place; returns how many it tied."""
    convs = subpixel_convs(model)
    for conv, factor in convs:
        tie_conv_phases_(conv, factor)
    return len(convs)


def phase_gain_spread(model: nn.Module) -> float:
    """The largest difference between two phases' DC gains (or biases) in ``model``'s sub-pixel convs; 0 when tied."""
    spread = 0.0
    for conv, factor in subpixel_convs(model):
        phases = factor * factor
        gains = conv.weight.detach().float().sum(dim=(-2, -1)).view(conv.out_channels // phases, phases, -1)
        spread = max(spread, float((gains.amax(dim=1) - gains.amin(dim=1)).max()))
        if conv.bias is not None:
            bias = conv.bias.detach().float().view(-1, phases)
            spread = max(spread, float((bias.amax(dim=1) - bias.amin(dim=1)).max()))
    return spread
