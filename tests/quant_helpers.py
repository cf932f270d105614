"""Tiny networks with batch-norm statistics worth matching, shared by the quantization tests."""

import torch
from torch import nn

from labs.zscgan.teacher import MnistResNet

TINY_WIDTHS = (4, 8, 8)


def give_batch_norm_statistics(network: nn.Module, seed: int = 0) -> nn.Module:
    """Set every BN layer's running mean/variance to random values, as training would (fresh layers hold 0 and 1)."""
    random = torch.Generator().manual_seed(seed)
    for layer in network.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.copy_(torch.rand(layer.num_features, generator=random) - 0.5)
            layer.running_var.copy_(0.5 + torch.rand(layer.num_features, generator=random))
    return network.eval()


def tiny_teacher(seed: int = 0) -> MnistResNet:
    """An untrained MNIST ResNet of a few channels, frozen, with non-trivial BN statistics."""
    torch.manual_seed(seed)
    teacher = give_batch_norm_statistics(MnistResNet(TINY_WIDTHS), seed)
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher
