"""The network being quantized: a small ResNet with batch norm, trained on MNIST.

ZS-CGAN needs a teacher whose batch-norm layers remember the statistics of its training data;
this is ResNet-18's recipe (3x3 conv stem, basic blocks, global average pool, one linear
layer) shrunk to three blocks so that it trains on one CPU thread in about a minute.
Layer names pair each conv with its BN (``conv1``/``bn1``, ``conv_stem``/``bn_stem``,
``conv_shortcut``/``bn_shortcut``) so :func:`sr_core.optimize.fold_batch_norms` can fold them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from labs.mnist import LabeledImages, fit_classifier

NUM_CLASSES = 10

Network = TypeVar("Network", bound=nn.Module)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut (1x1 conv + BN where the shape changes), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.reshapes = stride != 1 or in_channels != out_channels
        if self.reshapes:
            self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
            self.bn_shortcut = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.bn_shortcut(self.conv_shortcut(x)) if self.reshapes else x
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + shortcut)


class MnistResNet(nn.Module):
    """(N, 1, 28, 28) images in [-1, 1] -> (N, 10) logits; ``widths`` are the three stages' channels."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.conv_stem = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn_stem = nn.BatchNorm2d(widths[0])
        self.blocks = nn.Sequential(
            BasicBlock(widths[0], widths[0]),
            BasicBlock(widths[0], widths[1], stride=2),
            BasicBlock(widths[1], widths[2], stride=2),
        )
        self.fc = nn.Linear(widths[2], num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.blocks(F.relu(self.bn_stem(self.conv_stem(images))))
        return self.fc(features.mean(dim=(2, 3)))


def train_teacher(
    data: LabeledImages,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    widths: tuple[int, int, int] = (16, 32, 64),
    progress: Callable[[str], None] | None = None,
) -> MnistResNet:
    """A teacher trained with Adam (cosine-annealed) on labelled ``data``, returned frozen in eval mode.

    The BN running statistics it ends with are the only trace of the data that the data-free
    methods get to see.
    """
    torch.manual_seed(seed)
    teacher_progress = (lambda line: progress(f"teacher {line}")) if progress else None
    return freeze(
        fit_classifier(MnistResNet(widths), data, epochs, batch_size, lr, seed, cosine=True, progress=teacher_progress)
    )


def freeze(model: Network) -> Network:
    """``model`` in eval mode with gradients off: a fixed discriminator and distillation target."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


@torch.no_grad()
def accuracy(model: Callable[[torch.Tensor], torch.Tensor], data: LabeledImages, batch_size: int = 500) -> float:
    """Top-1 accuracy in percent of ``model`` (any callable giving logits: float, PTQ or QAT) on labelled ``data``."""
    correct = 0
    for start in range(0, len(data), batch_size):
        logits = model(data.images[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == data.known_labels[start : start + batch_size]).sum())
    return 100.0 * correct / len(data)
