"""The bundled image-GAN runs (assets/gan_runs): the real bundle's files and generators, and gan-bundle on tiny runs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from labs.gan.bundle import (
    MANIFEST_FILE,
    grids_figure,
    lab_sources,
    read_bundle_manifest,
    thin_metrics,
    write_bundle,
)
from labs.gan.classifier import CLASSIFIER_FILE, MnistClassifier, predict
from labs.gan.errors import GanSettingError
from labs.gan.registry import build_gan
from labs.gan.runs import find_runs, runs_overview
from labs.gan.sampling import GRID_SIDE, SWEEP_LIMIT, draw_samples, load_generator, sample_grid, sampler_choices
from labs.gan.trainer import GanRunConfig, Schedule, train
from sr_core.weights import read_state_dict, save_weights, sha256_file

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "gan_runs"
MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
IMAGE_GANS = ("dcgan", "wgan", "wgan-gp", "acgan", "infogan")
CHANCE = 0.1

pytestmark = pytest.mark.usefixtures("one_cpu_thread")
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason=f"MNIST's test set is not in {MNIST}"
)


def quiet(line: str) -> None:
    """Swallow the trainer's progress lines."""


def bundled_classifier() -> MnistClassifier:
    classifier = MnistClassifier()
    classifier.load_state_dict(read_state_dict(BUNDLE / CLASSIFIER_FILE))
    return classifier.eval()


# --- the real bundle --------------------------------------------------------------------------


def test_a_fresh_checkout_lists_ten_bundled_runs_whose_files_match_the_manifest():
    manifest = read_bundle_manifest(BUNDLE)
    runs = manifest["runs"]
    assert sorted(
        (entry["training"]["model"], entry["training"]["discriminator"]) for entry in runs.values()
    ) == sorted((model, disc) for model in IMAGE_GANS for disc in ("cnn", "capsule"))
    for name, entry in runs.items():
        assert {"generator.safetensors", "metrics.csv", "config.json", "summary.json"} <= set(entry["files"])
        assert any(file.startswith("samples/") for file in entry["files"])
        for file, digest in entry["files"].items():
            assert sha256_file(BUNDLE / name / file) == digest, f"{name}/{file} differs from the manifest"
        assert {"fd", "kid"} <= set(entry["scores"]) and entry["training"]["steps"] > 0
    assert sha256_file(BUNDLE / CLASSIFIER_FILE) == manifest["classifier"]["sha256"]
    assert sum(path.stat().st_size for path in BUNDLE.rglob("*") if path.is_file()) < 15 * 2**20


def test_every_bundled_run_trained_five_times_the_first_600_step_runs():
    """The GAN Lab issue's length: the report's curves settle, and classical and capsule compare at the same step."""
    runs = read_bundle_manifest(BUNDLE)["runs"]
    assert {name: entry["training"]["steps"] for name, entry in runs.items()} == {name: 3000 for name in runs}


def test_the_gan_lab_shows_every_bundled_run_classical_beside_capsule():
    overview = runs_overview({"bundled": BUNDLE})
    assert overview.models == sorted(IMAGE_GANS)
    assert [caption.split(",")[0] for _, caption in overview.gallery] == [
        f"{model} / {disc} (bundled)" for model in sorted(IMAGE_GANS) for disc in ("cnn", "capsule")
    ]
    assert overview.markdown.count("| bundled |") == 10
    assert len(sampler_choices({"bundled": BUNDLE})) == 10


@pytest.mark.parametrize("discriminator", ["cnn", "capsule"])
def test_sampling_the_bundled_acgan_for_a_digit_draws_that_digit_more_often_than_chance(discriminator):
    gan = load_generator(BUNDLE / f"acgan_{discriminator}")
    classifier = bundled_classifier()
    rates = []
    for digit in range(10):
        _, predicted = predict(classifier, draw_samples(gan, digit=digit, seed=digit))
        rates.append(float((predicted == digit).mean()))
    print(
        f"bundled acgan/{discriminator}: share of samples the MNIST classifier labels as the requested digit:",
        " ".join(f"{digit}:{rate:.2f}" for digit, rate in enumerate(rates)),
        f"mean {np.mean(rates):.3f}",
    )
    assert np.mean(rates) > 5 * CHANCE and min(rates) > CHANCE


# --- sampling -----------------------------------------------------------------------------------


class InputRecorder(nn.Module):
    """Wraps a generator and keeps every input vector it is given."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.inputs: list[torch.Tensor] = []

    def forward(self, vector: torch.Tensor) -> torch.Tensor:
        self.inputs.append(vector)
        return self.generator(vector)


def test_an_infogan_sweep_moves_only_the_swept_code_along_each_row():
    gan = build_gan("infogan", size="tiny")
    gan.generator = InputRecorder(gan.generator)
    images = draw_samples(gan, sweep_code=1, seed=3)
    assert images.shape == (GRID_SIDE * GRID_SIDE, 1, 28, 28)
    columns = gan.generator.inputs
    noise, codes, continuous = torch.stack(columns).split([62, 10, 2], dim=-1)  # (column, row, part)
    assert torch.equal(noise, noise[:1].expand_as(noise))  # each row keeps its noise in every column
    assert torch.equal(codes.argmax(-1), torch.arange(10).expand(GRID_SIDE, 10))  # row r asks for code r
    swept = torch.linspace(-SWEEP_LIMIT, SWEEP_LIMIT, GRID_SIDE)
    assert torch.allclose(continuous[:, :, 1], swept[:, None].expand(GRID_SIDE, GRID_SIDE))
    assert not continuous[:, :, 0].any()


def test_requesting_a_digit_from_an_unconditional_gan_says_to_pick_acgan_or_infogan():
    with pytest.raises(GanSettingError, match="ACGAN or InfoGAN"):
        draw_samples(build_gan("dcgan", size="tiny"), digit=3)
    with pytest.raises(GanSettingError, match="only InfoGAN"):
        draw_samples(build_gan("acgan", size="tiny"), sweep_code=0)


# --- writing a bundle ---------------------------------------------------------------------------


def test_the_gan_lab_shows_the_bundled_runs_first_then_the_user_s_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_GAN_RUNS", str(tmp_path / "mine"))
    assert list(lab_sources().items()) == [("bundled", BUNDLE), (str(tmp_path / "mine"), tmp_path / "mine")]


def test_thinning_metrics_averages_blocks_of_steps_and_keeps_the_total_training_time():
    steps = np.arange(1, 1001, dtype=float)
    metrics = {"step": steps, "g_loss": steps % 2, "seconds": np.full(1000, 0.5)}
    thinned = thin_metrics(metrics, max_rows=300)
    assert len(thinned["step"]) == 250 and thinned["step"][-1] == 1000 and thinned["step"][0] == 4
    assert np.allclose(thinned["g_loss"], 0.5) and thinned["seconds"].sum() == pytest.approx(500)
    assert thin_metrics(metrics, max_rows=1000) is metrics


def untrained_classifier(path: Path, split) -> tuple[MnistClassifier, float]:
    """Stands in for the MNIST classifier (training it takes a minute): untrained, saved where it is cached."""
    torch.manual_seed(0)
    classifier = MnistClassifier().eval()
    save_weights(classifier, path, metadata={"test_accuracy": "0.1"}, half=False)
    return classifier, 0.1


@needs_mnist
def test_gan_bundle_writes_fp16_runs_that_the_gan_lab_lists_and_samples(tmp_path, monkeypatch):
    monkeypatch.setattr("labs.gan.sources.load_or_train_classifier", untrained_classifier)
    runs = tmp_path / "runs"
    for model in ("acgan", "dcgan"):
        config = GanRunConfig(model, "cnn", size="tiny", data=str(MNIST), batch_size=4)
        train(config, runs / f"{model}_cnn", Schedule(steps=4, checkpoint_every=2), log=quiet)
    manifest = write_bundle([runs / "acgan_cnn", runs / "dcgan_cnn"], tmp_path / "bundle", runs)

    assert read_bundle_manifest(tmp_path / "bundle") == manifest and (tmp_path / "bundle" / MANIFEST_FILE).exists()
    assert manifest["runs"]["acgan_cnn"]["training"]["steps"] == 4
    assert manifest["runs"]["acgan_cnn"]["files"]["samples/step_000004.png"]
    generator = read_state_dict(tmp_path / "bundle" / "acgan_cnn" / "generator.safetensors")
    assert {tensor.dtype for tensor in generator.values()} >= {torch.float16}
    overview = runs_overview({"bundled": tmp_path / "bundle", "mine": runs}, model="acgan")
    assert overview.markdown.count("| acgan | cnn | 4 |") == 2 and "| bundled |" in overview.markdown
    assert [trace.name for trace in overview.curves.data][::3] == ["acgan / cnn (bundled)", "acgan / cnn (mine)"]
    assert sample_grid(tmp_path / "bundle" / "acgan_cnn", digit=7).shape == (302, 302, 3)
    assert grids_figure(find_runs(tmp_path / "bundle")).size == (2 * 302, 14 + 2 + 5 * 30)  # one pair, five rows


@needs_mnist
def test_bundling_again_changes_only_the_runs_that_trained_on(tmp_path, monkeypatch):
    monkeypatch.setattr("labs.gan.sources.load_or_train_classifier", untrained_classifier)
    runs, bundle = tmp_path / "runs", tmp_path / "bundle"
    for model in ("acgan", "dcgan"):
        config = GanRunConfig(model, "cnn", size="tiny", data=str(MNIST), batch_size=4)
        train(config, runs / f"{model}_cnn", Schedule(steps=2, checkpoint_every=2), log=quiet)
    write_bundle([runs / "acgan_cnn", runs / "dcgan_cnn"], bundle, runs)
    untouched = bundle / "dcgan_cnn" / "generator.safetensors"
    inode, content = untouched.stat().st_ino, untouched.read_bytes()

    config = GanRunConfig("acgan", "cnn", size="tiny", data=str(MNIST), batch_size=4)
    train(config, runs / "acgan_cnn", Schedule(steps=4, checkpoint_every=2), log=quiet)
    manifest = write_bundle([runs / "acgan_cnn", runs / "dcgan_cnn"], bundle, runs)

    assert (untouched.stat().st_ino, untouched.read_bytes()) == (inode, content)
    assert sorted(path.name for path in (bundle / "acgan_cnn" / "samples").iterdir()) == ["step_000004.png"]
    assert set(manifest["runs"]["acgan_cnn"]["files"]) == {
        path.relative_to(bundle / "acgan_cnn").as_posix()
        for path in (bundle / "acgan_cnn").rglob("*")
        if path.is_file()
    }
