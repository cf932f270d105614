"""GAN training: every model's train_step, the trainer's checkpoints/resume/CSV, gan-train, the 1-D experiment."""

import argparse
import csv
import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
import torch
from idx_files import MNIST_STEMS, write_tiny_mnist

from labs.gan.cli import add_commands
from labs.gan.data import load_training_images
from labs.gan.model import Batch
from labs.gan.registry import build_gan
from labs.gan.toy import TARGETS
from labs.gan.trainer import GanRunConfig, Schedule, evaluate_run, open_run, train
from labs.mnist import MnistDataError, download_mnist
from sr_core.errors import SRStudioError

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason=f"MNIST not found in {MNIST}"
)
IMAGE_GANS = ["dcgan", "wgan", "wgan-gp", "acgan", "infogan"]


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def quiet(line: str) -> None:
    """Swallow the trainer's progress lines."""


def gan_train(*argv: str) -> int:
    """``python -m sr_core gan-train ...`` as the app's CLI runs it: user errors -> exit code 2."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return args.handler(args)
    except SRStudioError as error:
        print(f"error: {error}")
        return 2


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --- every family's train_step --------------------------------------------------------------------


def _tiny_batches(labels: bool):
    def next_batch(count: int) -> Batch:
        return Batch(torch.rand(count, 1, 28, 28) * 2 - 1, torch.randint(10, (count,)) if labels else None)

    return next_batch


@pytest.mark.parametrize("name", IMAGE_GANS)
@pytest.mark.parametrize("discriminator", ["cnn", "capsule"])
def test_train_step_updates_both_networks_and_reports_the_three_curves(name, discriminator):
    torch.manual_seed(0)
    gan = build_gan(name, discriminator=discriminator, size="tiny", batch_size=4)
    before_g = [p.detach().clone() for p in gan.generator.parameters()]
    before_d = [p.detach().clone() for p in gan.discriminator.parameters()]
    metrics = gan.train_step(_tiny_batches(labels=True))
    assert {"g_loss", "d_loss", "d_accuracy"} <= set(metrics)
    assert all(torch.isfinite(torch.tensor(value)) for value in metrics.values())
    assert any(not torch.equal(a, b) for a, b in zip(before_g, gan.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, gan.discriminator.parameters()))


def test_goodfellow_gan_takes_k_discriminator_steps_per_generator_step():
    gan = build_gan("gan1d", k=3)
    drawn = []
    gan.train_step(lambda count: drawn.append(count) or Batch(TARGETS["normal"].sample(count)))
    assert drawn == [100, 100, 100]
    assert gan.d_optimizer.state[next(iter(gan.discriminator.parameters()))]["step"] == 3
    assert gan.g_optimizer.state[gan.generator.scale]["step"] == 1


def test_the_minimax_generator_loss_of_the_algorithm_as_written_also_trains():
    torch.manual_seed(0)
    gan = build_gan("gan1d", minimax=True)
    metrics = gan.train_step(lambda count: Batch(TARGETS["normal"].sample(count)))
    assert metrics["g_loss"] < 0 and gan.generator.shift.item() != 0.0  # log(1 - D) is negative


def test_wgan_clips_every_critic_weight_after_its_steps():
    gan = build_gan("wgan", size="tiny", batch_size=4)
    gan.train_step(_tiny_batches(labels=False))
    assert max(p.abs().max().item() for p in gan.discriminator.parameters()) <= 0.01 + 1e-9


def test_acgan_needs_labels():
    gan = build_gan("acgan", size="tiny", batch_size=4)
    with pytest.raises(SRStudioError, match="labels"):
        gan.train_step(_tiny_batches(labels=False))


def test_conditional_preview_draws_one_class_per_row():
    gan = build_gan("acgan", size="tiny")
    assert gan.preview(100).shape == (100, 1, 28, 28)
    with pytest.raises(SRStudioError, match="not conditional"):
        build_gan("dcgan", size="tiny").generate(2, classes=torch.zeros(2, dtype=torch.long))


def test_decayed_lr_scale_is_constant_then_falls_linearly_over_the_run_s_end():
    from labs.gan.model import decayed_lr_scale

    assert [decayed_lr_scale(step, 10, 0.4) for step in range(1, 11)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert decayed_lr_scale(10, 10, 0.0) == 1.0


def test_lr_decay_outside_zero_to_one_is_a_setting_error():
    with pytest.raises(SRStudioError, match="lr_decay"):
        build_gan("gan1d", lr_decay=1.5)


# --- the trainer ----------------------------------------------------------------------------------


@needs_mnist
@pytest.mark.parametrize("name", IMAGE_GANS)
@pytest.mark.parametrize("discriminator", ["cnn", "capsule"])
def test_every_image_gan_trains_from_the_cli_on_mnist(tmp_path, name, discriminator):
    out = tmp_path / f"{name}-{discriminator}"
    code = gan_train(
        "gan-train",
        "--model",
        name,
        "--disc",
        discriminator,
        "--data",
        str(MNIST),
        "--steps",
        "2",
        "--size",
        "tiny",
        "--batch-size",
        "4",
        "--sample-every",
        "2",
        "--out",
        str(out),
        "--no-eval",
    )
    assert code == 0
    rows = read_csv(out / "metrics.csv")
    assert [row["step"] for row in rows] == ["1", "2"]
    assert list(rows[0])[:4] == ["step", "g_loss", "d_loss", "d_accuracy"] and list(rows[0])[-1] == "seconds"
    assert (out / "samples" / "step_000002.png").exists() and (out / "checkpoint.pt").exists()
    assert (out / "generator.safetensors").exists() and (out / "report.html").exists()


def test_the_trainer_brings_the_learning_rates_down_on_the_run_s_last_steps(tmp_path):
    run = train(
        GanRunConfig("gan1d", options={"lr": 1e-3, "lr_decay": 0.5}), tmp_path / "run", Schedule(steps=4), log=quiet
    )
    assert [group["lr"] for group in run.gan.g_optimizer.param_groups] == [pytest.approx(5e-4)]  # step 4 of 4: 1/2
    assert [group["lr"] for group in run.gan.d_optimizer.param_groups] == [pytest.approx(5e-4)]


def test_sine_gan_trains_on_generated_waves_and_writes_a_grid(tmp_path):
    assert (
        gan_train(
            "gan-train",
            "--model",
            "sine",
            "--steps",
            "2",
            "--size",
            "tiny",
            "--sample-every",
            "1",
            "--out",
            str(tmp_path / "sine"),
        )
        == 0
    )
    grids = sorted(path.name for path in (tmp_path / "sine" / "samples").iterdir())
    assert grids == ["step_000001.png", "step_000002.png"]


def test_1d_csv_logs_the_generated_moments_and_d_on_real_and_fake(tmp_path):
    train(GanRunConfig("gan1d"), tmp_path / "run", Schedule(steps=3), log=quiet)
    assert list(read_csv(tmp_path / "run" / "metrics.csv")[0]) == [
        "step",
        "g_loss",
        "d_loss",
        "d_accuracy",
        "d_real",
        "d_fake",
        "fake_mean",
        "fake_std",
        "seconds",
    ]


def _loss_columns(path: Path) -> list[list[str]]:
    return [[value for key, value in row.items() if key != "seconds"] for row in read_csv(path)]


@needs_mnist
def test_a_resumed_run_matches_an_uninterrupted_one_exactly(tmp_path):
    config = GanRunConfig("acgan", "capsule", size="tiny", data=str(MNIST), batch_size=4)
    straight = train(config, tmp_path / "straight", Schedule(steps=4, checkpoint_every=2), log=quiet)
    train(config, tmp_path / "resumed", Schedule(steps=2, checkpoint_every=2), log=quiet)
    # a crash after step 3 leaves a row the checkpoint (step 2) does not cover
    with open(tmp_path / "resumed" / "metrics.csv", "a") as handle:
        handle.write("3,9,9,9,9,9\n")
    resumed = train(config, tmp_path / "resumed", Schedule(steps=4, checkpoint_every=2), log=quiet)
    for a, b in zip(straight.gan.state_dict()["generator"].values(), resumed.gan.state_dict()["generator"].values()):
        assert torch.equal(a, b)
    assert _loss_columns(tmp_path / "straight" / "metrics.csv") == _loss_columns(tmp_path / "resumed" / "metrics.csv")


def test_resuming_with_another_configuration_is_refused(tmp_path):
    train(GanRunConfig("gan1d"), tmp_path / "run", Schedule(steps=1), log=quiet)
    assert (
        gan_train("gan-train", "--model", "gan1d", "--generator", "mlp", "--steps", "2", "--out", str(tmp_path / "run"))
        == 2
    )


def test_open_run_restores_the_last_checkpoint(tmp_path):
    trained = train(GanRunConfig("gan1d"), tmp_path / "run", Schedule(steps=5), log=quiet)
    reopened = open_run(tmp_path / "run")
    assert reopened.step == 5
    assert torch.equal(reopened.gan.generator.scale, trained.gan.generator.scale)


def test_gan_train_reports_user_errors_with_exit_code_2(tmp_path, capsys):
    assert gan_train("gan-train", "--model", "dcgan", "--out", str(tmp_path / "run")) == 2
    assert "--data" in capsys.readouterr().out
    assert gan_train("gan-train", "--model", "dcgan", "--data", str(tmp_path), "--out", str(tmp_path / "run")) == 2
    assert gan_train("gan-train", "--model", "gan1d", "--steps", "0", "--out", str(tmp_path / "run")) == 2


def test_an_image_folder_trains_dcgan_at_64x64_rgb(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    for index in range(3):
        Image.new("RGB", (70, 64), (index * 80, 100, 200)).save(folder / f"{index}.png")
    out = tmp_path / "run"
    assert (
        gan_train(
            "gan-train",
            "--model",
            "dcgan",
            "--data",
            str(folder),
            "--steps",
            "1",
            "--size",
            "tiny",
            "--batch-size",
            "2",
            "--out",
            str(out),
        )
        == 0
    )
    assert json.loads((out / "summary.json").read_text())["metrics"] == {}
    from PIL import Image as PILImage

    grid = PILImage.open(out / "samples" / "step_000001.png")
    assert grid.mode == "RGB" and grid.width == 10 * 66 + 2


# --- MNIST for online users: torchvision's download, exercised offline ---------------------------


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        """No request lines in the test output."""


@pytest.fixture
def mnist_mirror(tmp_path, monkeypatch):
    """A local stand-in for torchvision's MNIST mirrors: tiny files with their own MD5s, served over HTTP on loopback."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import calculate_md5

    mirror = tmp_path / "mirror"
    write_tiny_mnist(mirror, train_count=12, test_count=10)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(mirror)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for proxy in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # loopback must not go through a proxy
    monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
    monkeypatch.setattr(
        MNIST, "resources", [(f"{stem}.gz", calculate_md5(mirror / f"{stem}.gz")) for stem in MNIST_STEMS]
    )
    yield mirror
    server.shutdown()
    server.server_close()


def test_download_puts_mnist_where_the_loader_finds_training_and_test_sets(tmp_path, mnist_mirror):
    download_mnist(tmp_path / "mnist")
    assert (tmp_path / "mnist" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    split = load_training_images(tmp_path / "mnist")
    assert split.train.images.shape == (12, 1, 28, 28) and split.test.labels.tolist() == list(range(10))


def test_gan_train_with_download_fetches_mnist_then_trains_on_it(tmp_path, mnist_mirror):
    out = tmp_path / "run"
    assert (
        gan_train(
            "gan-train",
            "--model",
            "acgan",
            "--data",
            str(tmp_path / "mnist"),
            "--download",
            "--steps",
            "1",
            "--size",
            "tiny",
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--no-eval",
        )
        == 0
    )
    assert [row["step"] for row in read_csv(out / "metrics.csv")] == ["1"]
    assert (tmp_path / "mnist" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()


def test_a_failed_download_is_a_data_error_that_says_how_to_provide_the_files(tmp_path, mnist_mirror):
    for path in mnist_mirror.iterdir():
        path.unlink()  # every mirror now answers "not found", as when offline
    with pytest.raises(MnistDataError, match="could not download MNIST.*copy the IDX files"):
        download_mnist(tmp_path / "mnist")


def test_download_without_a_data_folder_is_a_setting_error(tmp_path, capsys):
    assert gan_train("gan-train", "--model", "dcgan", "--download", "--out", str(tmp_path / "run")) == 2
    assert "--download needs --data" in capsys.readouterr().out


# --- the 1-D experiment (thesis 4.3) -------------------------------------------------------------


def test_the_linear_1d_gan_recovers_mean_and_std_within_10_percent_fast(tmp_path, capsys):
    """A quicker version of the thesis's run: Adam 5e-3 instead of 1e-3, 1500 steps."""
    assert (
        gan_train(
            "gan-train",
            "--model",
            "gan1d",
            "--target",
            "normal",
            "--lr",
            "5e-3",
            "--steps",
            "1500",
            "--out",
            str(tmp_path / "run"),
            "--print-every",
            "1500",
        )
        == 0
    )
    metrics = json.loads((tmp_path / "run" / "summary.json").read_text())["metrics"]
    assert metrics["mean_error"] < 0.10 and metrics["std_error"] < 0.10
    assert "learned mean" in capsys.readouterr().out


@pytest.mark.slow
def test_the_linear_1d_gan_recovers_mean_and_std_within_10_percent_at_the_thesis_settings(tmp_path):
    """Adam 1e-3 (TensorFlow's default, the thesis's), batch 100, D 3x64: ~25 s on one core."""
    run = train(GanRunConfig("gan1d", target="normal"), tmp_path / "run", Schedule(steps=10_000), log=quiet)
    metrics = evaluate_run(run, tmp_path)["metrics"]
    assert metrics["mean_error"] < 0.10 and metrics["std_error"] < 0.10
