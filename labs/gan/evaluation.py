"""How close a trained generator is to its data: 1-D moments and histograms, sine-wave fit, MNIST sample quality.

All functions return plain dicts of numbers (and lists of them), the content of a run's ``summary.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from labs.gan.classifier import MnistClassifier, predict
from labs.gan.metrics import (
    frechet_distance,
    histogram_distance,
    kernel_distance,
    matched_code_accuracy,
    requested_class_accuracies,
)
from labs.gan.model import GAN
from labs.gan.toy import GaussianMixture1D, SineWaves
from labs.mnist import LabeledImages

HISTOGRAM_BINS = 100
SINE_PHASES = 360  # the phase grid samples are matched on: one degree
PHASE_BINS = 12  # 30-degree bins for the coverage of the phase circle


def histogram_bins(target: GaussianMixture1D, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Bin edges over the target's plot range, shared by the distance and the plots."""
    low, high = target.plot_range()
    return np.linspace(low, high, bins + 1)


def one_d_summary(samples: np.ndarray, target: GaussianMixture1D) -> dict[str, float]:
    """Learned mean/std against the truth (relative errors) and the histogram's total-variation distance."""
    mean, std = float(samples.mean()), float(samples.std())
    edges = histogram_bins(target)
    return {
        "mean": mean,
        "std": std,
        "target_mean": target.mean,
        "target_std": target.std,
        "mean_error": abs(mean - target.mean) / abs(target.mean),
        "std_error": abs(std - target.std) / target.std,
        "histogram_distance": histogram_distance(samples, edges, np.diff(target.cdf(edges))),
    }


def sine_fit(samples: torch.Tensor, waves: SineWaves, phase_bins: int = PHASE_BINS) -> dict[str, float]:
    """Whether generated images are sine waves, and whether their phases cover the circle as the data's do.

    Each sample, binarised at 0, is matched to the wave of the phase (1-degree grid) whose curve
    pixels it overlaps best. ``curve_iou`` is the mean intersection-over-union of those matches
    (0.97 for the data itself, 0.07 for uniform noise); ``phase_distance`` the total-variation
    distance between the matched phases' histogram and the uniform one (0: every phase as often;
    1 - 1/bins: one phase only, a collapsed generator).
    """
    grid = torch.arange(SINE_PHASES, dtype=torch.float32) * (2 * np.pi / SINE_PHASES)
    templates = (waves.draw(grid).flatten(1) > 0).float()
    curves = (samples.flatten(1) > 0).float()
    intersection = curves @ templates.T
    union = curves.sum(1, keepdim=True) + templates.sum(1) - intersection
    best_iou, best_phase = (intersection / union.clamp(min=1)).max(dim=1)
    counts = torch.bincount(best_phase * phase_bins // SINE_PHASES, minlength=phase_bins).double()
    phase_distance = 0.5 * (counts / len(samples) - 1 / phase_bins).abs().sum()
    return {"curve_iou": best_iou.mean().item(), "phase_distance": phase_distance.item(), "samples": len(samples)}


def generated_values(gan: GAN, count: int, chunk: int = 10_000) -> np.ndarray:
    """``count`` 1-D samples of the generator as a flat array."""
    return torch.cat([gan.generate(min(chunk, count - start)) for start in range(0, count, chunk)]).flatten().numpy()


def mnist_sample_quality(
    gan: GAN, classifier: MnistClassifier, held_out: LabeledImages, count: int = 2000, chunk: int = 500
) -> dict[str, Any]:
    """FD and KID (MNIST-classifier features) of ``count`` samples against held-out digits.

    For class-conditional generators also how often the classifier reads the requested class:
    ``class_accuracy`` over all samples and ``class_accuracy_per_class`` for each requested
    class (ACGAN) or categorical code (InfoGAN, each code mapped to its best class first, the
    mapping saved as ``code_to_class``). Classes are requested in equal numbers.
    """
    classes = torch.arange(count) % gan.num_classes if gan.num_classes else None
    samples = torch.cat(
        [
            gan.generate(min(chunk, count - start), None if classes is None else classes[start : start + chunk])
            for start in range(0, count, chunk)
        ]
    )
    fake_features, predicted = predict(classifier, samples)
    real_features, _ = predict(classifier, held_out.images)
    kid, kid_std = kernel_distance(real_features, fake_features)
    quality: dict[str, Any] = {
        "fd": frechet_distance(real_features, fake_features),
        "kid": kid,
        "kid_std": kid_std,
        "samples": count,
    }
    if classes is not None:
        requested = classes.numpy()
        if gan.classes_are_labels:
            mapping = {label: label for label in range(gan.num_classes)}
        else:
            _, mapping = matched_code_accuracy(predicted, requested, gan.num_classes)
            quality["code_to_class"] = [mapping[code] for code in range(gan.num_classes)]
        hits = predicted == np.array([mapping[int(code)] for code in requested])
        quality["class_accuracy"] = float(hits.mean())
        quality["class_accuracy_per_class"] = requested_class_accuracies(hits, requested, gan.num_classes)
    return quality
