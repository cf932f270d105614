"""Numbers that say how a GAN is doing: the report's discriminator accuracy, and sample quality.

Sample quality needs no downloaded network: the Frechet distance and the kernel (KID-style)
distance are computed in the feature space of a small MNIST classifier the project trains
itself (:mod:`labs.gan.classifier`). They are labelled "FD / KID (MNIST-classifier
features)" and are *not* comparable with Inception-based FID/KID figures from papers.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg
from scipy.optimize import linear_sum_assignment

FD_LABEL = "FD (MNIST-classifier features)"
KID_LABEL = "KID (MNIST-classifier features)"


def real_fake_accuracy(real_score: torch.Tensor, fake_score: torch.Tensor, threshold: float = 0.0) -> float:
    """The fraction of real and fake samples the discriminator labels right (logit > threshold means real)."""
    correct = (real_score.detach() > threshold).sum() + (fake_score.detach() <= threshold).sum()
    return float(correct) / (len(real_score) + len(fake_score))


def critic_accuracy(real_score: torch.Tensor, fake_score: torch.Tensor) -> float:
    """Real/fake accuracy of a WGAN critic, thresholded half-way between its mean real and fake scores.

    A critic's scores have no fixed zero (adding a constant changes nothing), so the threshold
    0 of a logit would be arbitrary; the midpoint asks how well the critic *separates* the two.
    """
    midpoint = float((real_score.detach().mean() + fake_score.detach().mean()) / 2)
    return real_fake_accuracy(real_score, fake_score, midpoint)


def class_accuracy(class_logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of rows whose largest logit is at the label."""
    return float((class_logits.detach().argmax(dim=1) == labels).float().mean())


def matched_code_accuracy(predicted: np.ndarray, codes: np.ndarray, num_classes: int) -> tuple[float, dict[int, int]]:
    """Accuracy of predicted classes against InfoGAN codes under the best one-to-one code -> class mapping.

    InfoGAN learns its categorical code without labels, so code 3 may well draw sevens; the
    Hungarian algorithm finds the mapping that agrees with the classifier most often.
    Returns the accuracy and the mapping {code: class}.
    """
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (codes, predicted), 1)
    code_index, class_index = linear_sum_assignment(-counts)
    accuracy = counts[code_index, class_index].sum() / max(len(codes), 1)
    return float(accuracy), {int(code): int(label) for code, label in zip(code_index, class_index)}


def requested_class_accuracies(hits: np.ndarray, requested: np.ndarray, num_classes: int) -> list[float]:
    """The fraction of hits among the samples of each requested class (NaN for a class never requested)."""
    return [
        float(hits[requested == label].mean()) if (requested == label).any() else float("nan")
        for label in range(num_classes)
    ]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) feature sets (Heusel et al.).

    When the product of covariances is near-singular (fewer samples than dimensions) its square
    root picks up a tiny imaginary part or infinities; as in the reference implementation a
    small multiple of the identity is then added to both covariances.
    """
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    with warnings.catch_warnings():
        # ReLU features have dead units, so singular covariances are normal here; the result is still finite.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root)
    return float(max(distance, 0.0))


def kernel_distance(
    features_a: np.ndarray, features_b: np.ndarray, subsets: int = 20, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """KID: unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over random subsets (Binkowski et al.).

    Unlike FD it has an unbiased estimator, so it stays comparable between sample counts.
    Returns (mean, standard deviation over subsets).
    """
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(features_a), len(features_b))
    dims = features_a.shape[1]
    estimates = []
    for _ in range(subsets):
        a = features_a[rng.choice(len(features_a), size, replace=False)]
        b = features_b[rng.choice(len(features_b), size, replace=False)]
        k_aa, k_bb, k_ab = ((x @ y.T / dims + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (size * (size - 1))
        estimates.append(within - 2 * k_ab.mean())
    return float(np.mean(estimates)), float(np.std(estimates))


def histogram_distance(samples: np.ndarray, bin_edges: np.ndarray, target_probabilities: np.ndarray) -> float:
    """Total variation between the samples' histogram and the target's probability per bin, in [0, 1].

    Samples outside the bins count as mass the target does not have there.
    """
    counts, _ = np.histogram(samples, bins=bin_edges)
    sample_probabilities = counts / max(len(samples), 1)
    outside = 1.0 - sample_probabilities.sum()
    target_outside = max(1.0 - target_probabilities.sum(), 0.0)
    return float(0.5 * (np.abs(sample_probabilities - target_probabilities).sum() + abs(outside - target_outside)))
