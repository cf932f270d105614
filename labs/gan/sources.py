"""Training data sources: where a GAN's real samples come from, and how its samples are judged.

A source draws batches from torch's global generator, so seeding each training step fixes
the step's data (the trainer's resume is exact). It also knows what to watch while training
(``monitor``) and how to score the finished generator (``evaluate``): moments for a 1-D
target, the fit to a wave for sine images, FD/KID/accuracy for MNIST, nothing for data without
a reference (image folders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from labs.gan.classifier import CLASSIFIER_FILE, load_or_train_classifier
from labs.gan.data import load_training_images
from labs.gan.errors import GanDataError, GanSettingError
from labs.gan.evaluation import generated_values, mnist_sample_quality, one_d_summary, sine_fit
from labs.gan.model import GAN, Batch
from labs.gan.registry import GanSpec
from labs.gan.toy import TARGETS, GaussianMixture1D, SineWaves
from labs.mnist import MnistSplit, has_mnist

MONITOR_SAMPLES = 2000
SUMMARY_SAMPLES = 100_000
SINE_SUMMARY_SAMPLES = 1000


class DataSource(Protocol):
    """``sample_shape`` is one sample's shape: (1,) for 1-D data, (C, H, W) for images."""

    sample_shape: tuple[int, ...]
    has_labels: bool
    description: str

    def sample(self, count: int) -> Batch: ...

    def monitor(self, gan: GAN) -> dict[str, float]: ...

    def evaluate(self, gan: GAN, cache_dir: Path) -> dict[str, float]: ...


class TargetSource:
    """A 1-D target distribution (thesis 4.3-4.4); the generator's moments are watched every step."""

    sample_shape: tuple[int, ...] = (1,)
    has_labels = False

    def __init__(self, target: GaussianMixture1D, name: str) -> None:
        self.target = target
        self.description = f"{name}: mean {target.mean:.3f}, std {target.std:.3f}"

    def sample(self, count: int) -> Batch:
        return Batch(self.target.sample(count))

    def monitor(self, gan: GAN) -> dict[str, float]:
        values = gan.generate(MONITOR_SAMPLES).flatten()
        return {"fake_mean": values.mean().item(), "fake_std": values.std().item()}

    def evaluate(self, gan: GAN, cache_dir: Path) -> dict[str, float]:
        return one_d_summary(generated_values(gan, SUMMARY_SAMPLES), self.target)


class SineSource:
    """Endless 50x50 sine-wave images (thesis 4.5); samples are scored by how well they fit a wave (:func:`sine_fit`)."""

    has_labels = False

    def __init__(self, waves: SineWaves | None = None) -> None:
        waves = waves or SineWaves()
        self.waves = waves
        self.sample_shape: tuple[int, ...] = (1, waves.size, waves.size)
        self.description = f"{waves.size}x{waves.size} binary sine waves, uniform phase"

    def sample(self, count: int) -> Batch:
        return Batch(self.waves.sample(count))

    def monitor(self, gan: GAN) -> dict[str, float]:
        return {}

    def evaluate(self, gan: GAN, cache_dir: Path) -> dict[str, float]:
        return sine_fit(gan.generate(SINE_SUMMARY_SAMPLES), self.waves)


class ImageSource:
    """Images drawn uniformly with replacement from a training split; MNIST's held-out part scores samples."""

    def __init__(self, split: MnistSplit, is_mnist: bool, folder: Path) -> None:
        self.split = split
        self.is_mnist = is_mnist
        self.sample_shape: tuple[int, ...] = split.train.image_shape
        self.has_labels = split.train.labels is not None
        kind = "MNIST" if is_mnist else "image folder"
        self.description = f"{kind} {folder}: {len(split.train)} training, {len(split.test)} held-out images"

    def sample(self, count: int) -> Batch:
        indices = torch.randint(len(self.split.train), (count,))
        train = self.split.train
        return Batch(train.images[indices], None if train.labels is None else train.labels[indices])

    def monitor(self, gan: GAN) -> dict[str, float]:
        return {}

    def evaluate(self, gan: GAN, cache_dir: Path) -> dict[str, float]:
        """FD/KID/accuracy on MNIST with the cached classifier (trained on first use); nothing for folders."""
        if not self.is_mnist:
            return {}
        classifier, classifier_accuracy = load_or_train_classifier(cache_dir / CLASSIFIER_FILE, self.split)
        return {**mnist_sample_quality(gan, classifier, self.split.test), "classifier_accuracy": classifier_accuracy}


def open_source(spec: GanSpec, data: str | Path | None = None, target: str = "normal") -> DataSource:
    """The source a GAN of ``spec`` trains on: ``target`` for 1-D GANs, ``data`` (a folder) for image GANs."""
    if spec.data == "toy1d":
        if target not in TARGETS:
            raise GanSettingError(f"unknown 1-D target {target!r}; choose one of {', '.join(TARGETS)}")
        return TargetSource(TARGETS[target], target)
    if spec.data == "sine":
        return SineSource()
    if data is None:
        raise GanDataError(f"{spec.name} trains on images: pass --data DIR (MNIST IDX files or a folder of images)")
    folder = Path(data)
    source = ImageSource(load_training_images(folder), has_mnist(folder), folder)
    if spec.needs_labels and not source.has_labels:
        raise GanDataError(f"{spec.name} needs class labels: train it on MNIST, not on a folder of unlabelled images")
    return source
