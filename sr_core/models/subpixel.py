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


def _by_phase(tensor: torch.Tensor, phases: int) -> torch.Tensor:
    """A view of a sub-pixel conv's weight or bias as (shuffled channel, phase, ...).

    Output channel ``c * phases + p`` is phase ``p`` of shuffled channel ``c`` (PyTorch's ``PixelShuffle`` order).
    """
    return tensor.view(tensor.shape[0] // phases, phases, *tensor.shape[1:])


@torch.no_grad()
def tie_conv_phases_(conv: nn.Conv2d, factor: int) -> None:
    """Give the ``factor**2`` phases of every shuffled channel of ``conv`` the same DC gain per input channel and bias."""
    phases = factor * factor
    weight = _by_phase(conv.weight, phases)
    gains = weight.sum(dim=(-2, -1), keepdim=True)
    weight += (gains.mean(dim=1, keepdim=True) - gains) / (weight.shape[-2] * weight.shape[-1])
    if conv.bias is not None:
        bias = _by_phase(conv.bias, phases)
        bias.copy_(bias.mean(dim=1, keepdim=True).expand_as(bias))


def tie_subpixel_phases_(model: nn.Module) -> int:
    """Make every sub-pixel upsampler of ``model`` checkerboard-free in place; returns how many it tied."""
    convs = subpixel_convs(model)
    for conv, factor in convs:
        tie_conv_phases_(conv, factor)
    return len(convs)


def phase_gain_spread(model: nn.Module) -> float:
    """The largest difference between two phases' DC gains (or biases) in ``model``'s sub-pixel convs; 0 when tied."""
    spreads = [0.0]
    for conv, factor in subpixel_convs(model):
        by_phase = [_by_phase(conv.weight.detach().float().sum(dim=(-2, -1)), factor * factor)]
        if conv.bias is not None:
            by_phase.append(_by_phase(conv.bias.detach().float(), factor * factor))
        spreads += [float((values.amax(dim=1) - values.amin(dim=1)).max()) for values in by_phase]
    return max(spreads)
