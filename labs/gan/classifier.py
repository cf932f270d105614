"""A small MNIST classifier, trained by the project itself, whose features measure sample quality.

Inception-based FID needs a downloaded network and judges 299x299 photos; this net is
trained here in well under a minute on CPU, so the metrics work offline and on digits. Its
64-dimensional penultimate layer is the feature space of the Frechet and kernel distances,
and its predictions say whether ACGAN/InfoGAN samples show the digit they were asked for.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labs.mnist import LabeledImages, MnistSplit, fit_classifier
from sr_core.weights import read_metadata, read_state_dict, save_weights

FEATURE_DIM = 64
CLASSIFIER_FILE = "mnist_classifier.safetensors"


class MnistClassifier(nn.Module):
    """Two 3x3 conv + max-pool stages (16, 32 channels), a 64-unit feature layer, 10 logits; input NCHW in [-1, 1]."""

    def __init__(self, feature_dim: int = FEATURE_DIM, num_classes: int = 10) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.feature = nn.Linear(32 * 7 * 7, feature_dim)
        self.classify = nn.Linear(feature_dim, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) images -> (N, feature_dim) penultimate activations."""
        return F.relu(self.feature(self.convs(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))


def train_classifier(
    data: LabeledImages, epochs: int = 2, batch_size: int = 64, lr: float = 2e-3, seed: int = 0
) -> MnistClassifier:
    """A classifier trained with Adam on ``data`` (labelled), returned in eval mode."""
    torch.manual_seed(seed)
    return fit_classifier(MnistClassifier(), data, epochs, batch_size, lr, seed).eval()


@torch.no_grad()
def predict(model: MnistClassifier, images: torch.Tensor, chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, feature_dim), predicted classes (N,)) of ``images``, in chunks to bound memory."""
    features, classes = [], []
    for start in range(0, len(images), chunk):
        feature = model.features(images[start : start + chunk])
        features.append(feature.numpy())
        classes.append(model.classify(feature).argmax(dim=1).numpy())
    return np.concatenate(features), np.concatenate(classes)


def accuracy(model: MnistClassifier, data: LabeledImages) -> float:
    """The fraction of ``data`` the classifier labels right."""
    _, classes = predict(model, data.images)
    return float((classes == data.known_labels.numpy()).mean())


def split_fingerprint(split: MnistSplit) -> str:
    """A short hash of the split's images and labels: a cached classifier is reused only for the same split."""
    digest = hashlib.sha256()
    for part in (split.train, split.test):
        digest.update(part.images.numpy().tobytes())
        digest.update(part.known_labels.numpy().tobytes())
    return digest.hexdigest()[:16]


def load_or_train_classifier(path: str | Path, split: MnistSplit, epochs: int = 2) -> tuple[MnistClassifier, float]:
    """The cached classifier at ``path`` if it was trained on this ``split``, else one trained on
    ``split.train`` and saved there (replacing a cache of another split, whose held-out digits
    may have been its training digits).

    Returns the model and its accuracy on ``split.test`` (stored in the file's metadata, so a
    reader of any report can check the feature network was a good classifier).
    """
    path = Path(path)
    fingerprint = split_fingerprint(split)
    model = MnistClassifier()
    if path.exists() and read_metadata(path).get("split") == fingerprint:
        model.load_state_dict(read_state_dict(path))
        return model.eval(), float(read_metadata(path)["test_accuracy"])
    model = train_classifier(split.train, epochs=epochs)
    test_accuracy = accuracy(model, split.test)
    save_weights(
        model,
        path,
        metadata={"test_accuracy": f"{test_accuracy:.4f}", "train_images": len(split.train), "split": fingerprint},
        half=False,
    )
    return model, test_accuracy
