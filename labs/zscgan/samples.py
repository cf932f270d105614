"""Labelled synthetic digits from a ZS-CGAN generator: the calibration sets and sample grids of the MNIST lab."""

from __future__ import annotations

import torch

from labs.mnist import LabeledImages
from sr_core.quant.generator import Generator


@torch.no_grad()
def synthetic_set(generator: Generator, count: int, seed: int = 0, batch_size: int = 250) -> LabeledImages:
    """``count`` labelled samples with classes in turn (0, 1, ..., 9, 0, ...), from the generator in eval mode."""
    generator.eval()
    random = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % generator.num_classes
    images = [generator.sample(len(chunk), chunk, random)[0] for chunk in labels.split(batch_size)]
    return LabeledImages(torch.cat(images), labels)


def class_rows(samples: LabeledImages, per_class: int = 10, num_classes: int = 10) -> torch.Tensor:
    """The first ``per_class`` samples of each class, class after class: a grid with one row per class."""
    return torch.cat([samples.images[samples.labels == label][:per_class] for label in range(num_classes)])
