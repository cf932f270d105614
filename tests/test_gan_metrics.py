"""Sample-quality metrics: FD/KID math, the MNIST feature classifier, 1-D summaries, the comparison table."""

from pathlib import Path

import numpy as np
import pytest
import torch

from labs.gan.classifier import accuracy, load_or_train_classifier, predict, split_fingerprint, train_classifier
from labs.gan.evaluation import mnist_sample_quality, one_d_summary
from labs.gan.metrics import (
    critic_accuracy,
    frechet_distance,
    histogram_distance,
    kernel_distance,
    matched_code_accuracy,
    real_fake_accuracy,
    requested_class_accuracies,
)
from labs.gan.model import GAN
from labs.gan.registry import build_gan
from labs.gan.runs import RunInfo, comparison_table, find_runs, format_summary
from labs.gan.toy import TARGETS
from labs.gan.trainer import GanRunConfig, Schedule, evaluate_run, train
from labs.mnist import LabeledImages, MnistSplit, load_mnist, read_idx, uint8_to_signed
from sr_core.weights import read_metadata

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason=f"MNIST not found in {MNIST}"
)


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def quiet(line: str) -> None:
    """Swallow the trainer's progress lines."""


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(MNIST)


@pytest.fixture(scope="module")
def small_classifier(mnist):
    """Trained for one epoch (about three seconds): a test-sized stand-in for the cached two-epoch one."""
    return train_classifier(mnist.train, epochs=1)


# --- FD, KID and accuracies ---------------------------------------------------------------------


def test_frechet_distance_of_identical_feature_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_a_shifted_gaussian_is_the_squared_shift():
    features = np.random.default_rng(0).normal(size=(2000, 8))
    assert frechet_distance(features, features + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)


def test_frechet_distance_survives_singular_covariances_of_dead_relu_units():
    features = np.maximum(np.random.default_rng(0).normal(size=(300, 10)), 0)
    features[:, :3] = 0.0
    assert np.isfinite(frechet_distance(features, features * 1.1))


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    same_mean, same_std = kernel_distance(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)))
    different, _ = kernel_distance(rng.normal(size=(1000, 8)), rng.normal(1.0, size=(1000, 8)))
    assert abs(same_mean) < 3 * same_std + 1e-3 and different > 10 * same_std


def test_real_fake_accuracy_counts_logits_on_the_right_side_of_zero():
    assert real_fake_accuracy(torch.tensor([1.0, -1.0]), torch.tensor([-2.0, -3.0])) == 0.75


def test_critic_accuracy_ignores_a_constant_shift_of_the_critic():
    real, fake = torch.tensor([5.0, 6.0, 2.0]), torch.tensor([1.0, 3.0, 0.0])
    assert critic_accuracy(real, fake) == critic_accuracy(real + 100, fake + 100) == pytest.approx(4 / 6)


def test_matched_code_accuracy_forgives_a_permutation_of_infogan_codes():
    codes = np.repeat(np.arange(10), 5)
    accuracy_value, mapping = matched_code_accuracy((codes + 3) % 10, codes, 10)
    assert accuracy_value == 1.0 and mapping[0] == 3


def test_requested_class_accuracies_score_each_requested_class_on_its_own():
    requested = np.array([0, 0, 1, 1, 2, 2])
    hits = np.array([True, True, True, False, False, False])
    assert requested_class_accuracies(hits, requested, 3) == [1.0, 0.5, 0.0]
    assert np.isnan(requested_class_accuracies(hits, requested, 4)[3])


def _torchmetrics_features(features: np.ndarray):
    """A torchmetrics custom feature network that reads precomputed features back by sample index."""
    from torch import nn

    class Lookup(nn.Module):
        num_features = features.shape[1]

        def forward(self, index: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(features)[index.long().flatten()]

    return Lookup()


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_fd_and_kid_agree_with_torchmetrics_given_the_same_custom_feature_network():
    torchmetrics_fid = pytest.importorskip("torchmetrics.image.fid")
    torchmetrics_kid = pytest.importorskip("torchmetrics.image.kid")
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 6)), rng.normal(0.3, 1.2, size=(300, 6))
    features = np.concatenate([real, fake])
    real_index, fake_index = torch.arange(300).unsqueeze(1), torch.arange(300, 600).unsqueeze(1)
    fid = torchmetrics_fid.FrechetInceptionDistance(feature=_torchmetrics_features(features))
    fid.update(real_index, real=True)
    fid.update(fake_index, real=False)
    kid = torchmetrics_kid.KernelInceptionDistance(feature=_torchmetrics_features(features), subsets=1, subset_size=300)
    kid.update(real_index, real=True)
    kid.update(fake_index, real=False)
    assert frechet_distance(real, fake) == pytest.approx(float(fid.compute()), rel=1e-4)
    # one subset holding every sample: the unbiased MMD^2 no longer depends on the subsets drawn
    assert kernel_distance(real, fake, subsets=1, subset_size=300)[0] == pytest.approx(
        float(kid.compute()[0]), rel=1e-3
    )


def test_histogram_distance_is_zero_for_matching_mass_and_one_for_disjoint_mass():
    edges = np.array([0.0, 1.0, 2.0])
    assert histogram_distance(np.array([0.5, 1.5]), edges, np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert histogram_distance(np.array([5.0, 6.0]), edges, np.array([0.5, 0.5])) == pytest.approx(1.0)


def test_one_d_summary_of_true_samples_is_close_to_the_truth():
    torch.manual_seed(0)
    summary = one_d_summary(TARGETS["mixture"].sample(100_000).numpy(), TARGETS["mixture"])
    assert summary["mean_error"] < 0.02 and summary["std_error"] < 0.01 and summary["histogram_distance"] < 0.03


# --- the MNIST feature classifier ----------------------------------------------------------------


@needs_mnist
def test_a_test_sized_classifier_already_reads_most_held_out_digits(mnist, small_classifier):
    assert accuracy(small_classifier, mnist.test) > 0.9


@needs_mnist
def test_training_and_held_out_digits_come_from_the_same_writers(mnist, small_classifier):
    """t10k is SD-3 writers then SD-1 writers: the held-out fifth must mix both, unlike a tail cut."""
    t10k = uint8_to_signed(torch.from_numpy(read_idx(MNIST / "t10k-images-idx3-ubyte.gz").copy()).unsqueeze(1))
    head, _ = predict(small_classifier, t10k[:2000])
    tail, _ = predict(small_classifier, t10k[-2000:])
    held_out, _ = predict(small_classifier, mnist.test.images)
    training, _ = predict(small_classifier, mnist.train.images[: len(mnist.test)])
    assert frechet_distance(held_out, training) < frechet_distance(tail, head) / 3


@needs_mnist
@pytest.mark.slow
def test_the_cached_classifier_reaches_95_percent_and_is_reloaded_from_its_file(tmp_path, mnist):
    _, test_accuracy = load_or_train_classifier(tmp_path / "classifier.safetensors", mnist)
    reloaded, reloaded_accuracy = load_or_train_classifier(tmp_path / "classifier.safetensors", mnist)
    assert test_accuracy > 0.95 and reloaded_accuracy == test_accuracy
    assert accuracy(reloaded, mnist.test) == pytest.approx(test_accuracy, abs=1e-4)


def _random_split(seed: int) -> MnistSplit:
    generator = torch.Generator().manual_seed(seed)

    def part(count: int) -> LabeledImages:
        return LabeledImages(torch.rand(count, 1, 28, 28, generator=generator) * 2 - 1, torch.arange(count) % 10)

    return MnistSplit(part(20), part(10))


def test_a_cached_classifier_is_reused_for_its_split_and_retrained_for_another(tmp_path):
    path = tmp_path / "classifier.safetensors"
    load_or_train_classifier(path, _random_split(0), epochs=1)
    first = path.read_bytes()
    load_or_train_classifier(path, _random_split(0), epochs=1)
    assert path.read_bytes() == first
    load_or_train_classifier(path, _random_split(1), epochs=1)
    assert read_metadata(path)["split"] == split_fingerprint(_random_split(1)) != split_fingerprint(_random_split(0))


class _ReplayGAN(GAN):
    """A stand-in generator that returns real held-out digits of the requested class: a perfect ACGAN."""

    classes_are_labels = True

    def __init__(self, digits):
        self.digits, self.num_classes = digits, 10

    def generate(self, count, classes=None, generator=None):
        return torch.stack(
            [
                self.digits.images[self.digits.labels == label][index // 10 % 50]
                for index, label in enumerate(classes.tolist())
            ]
        )


@needs_mnist
def test_real_digits_score_a_small_fd_and_high_class_accuracy_unlike_noise(mnist, small_classifier):
    real = mnist_sample_quality(_ReplayGAN(mnist.train), small_classifier, mnist.test, count=500)
    noise = mnist_sample_quality(build_gan("acgan", size="tiny"), small_classifier, mnist.test, count=500)
    assert real["class_accuracy"] > 0.85 and noise["class_accuracy"] < 0.3
    assert len(real["class_accuracy_per_class"]) == 10 and min(real["class_accuracy_per_class"]) > 0.5
    assert np.mean(real["class_accuracy_per_class"]) == pytest.approx(real["class_accuracy"])
    assert real["fd"] < noise["fd"] / 10 and real["kid"] < noise["kid"] / 10


class _PermutedCodesGAN(_ReplayGAN):
    """A perfect InfoGAN whose code c draws the digit (c + 3) % 10: codes are not labels."""

    classes_are_labels = False

    def generate(self, count, classes=None, generator=None):
        return super().generate(count, (classes + 3) % 10, generator)


@needs_mnist
def test_infogan_codes_are_scored_after_mapping_each_code_to_the_digit_it_draws(mnist, small_classifier):
    quality = mnist_sample_quality(_PermutedCodesGAN(mnist.train), small_classifier, mnist.test, count=500)
    assert quality["code_to_class"] == [(code + 3) % 10 for code in range(10)]
    assert quality["class_accuracy"] > 0.85 and min(quality["class_accuracy_per_class"]) > 0.5
    assert "codes drew the digits 3 4 5" in format_summary({**quality, "classifier_accuracy": 0.9})


# --- summaries and the comparison table ----------------------------------------------------------


@needs_mnist
def test_the_comparison_table_puts_classical_and_capsule_runs_side_by_side(
    tmp_path, mnist, small_classifier, monkeypatch
):
    monkeypatch.setattr("labs.gan.sources.load_or_train_classifier", lambda path, split: (small_classifier, 0.9))
    for discriminator in ("cnn", "capsule"):
        config = GanRunConfig("infogan", discriminator, size="tiny", data=str(MNIST), batch_size=4)
        run = train(config, tmp_path / f"infogan-{discriminator}", Schedule(steps=1), log=quiet)
        metrics = evaluate_run(run, tmp_path)["metrics"]
        assert {"fd", "kid", "kid_std", "class_accuracy", "classifier_accuracy"} <= set(metrics)
        assert "FD (MNIST-classifier features)" in format_summary(metrics)
    table = comparison_table(find_runs(tmp_path))
    assert "| infogan | capsule | 1 | " in table and "| infogan | cnn | 1 | " in table
    assert "train time (s)" in table
    assert "FD (MNIST-classifier features)" in table and "FID" not in table


@pytest.mark.parametrize(
    ("kid", "kid_std", "cell"),
    [(1279.3365, 126.2887, "1279 ± 126"), (220.9846, 109.6016, "221 ± 110"), (0.01234, 0.00456, "0.0123 ± 0.00456")],
)
def test_the_comparison_table_gives_kid_and_its_spread_to_three_figures_without_exponents(kid, kid_std, cell):
    summary = {"step": 3000, "metrics": {"fd": 11.7, "kid": kid, "kid_std": kid_std}}
    run = RunInfo(Path("wgan_cnn"), "wgan", "cnn", {}, 3000, summary, 2860.0, "bundled")
    assert f"| 11.70 | {cell} | - | bundled |" in comparison_table([run])
