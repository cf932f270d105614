"""The training backend end to end on tiny data: every preset, exact resume, logs, export, the CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_ARCH_KWARGS
from PIL import Image

from sr_core.errors import TrainingConfigError
from sr_core.models.subpixel import phase_gain_spread
from sr_core.registry import build_model, get_spec
from sr_core.train import loop
from sr_core.train.checkpoint import CHECKPOINT_NAME, EMA_KEY, load_checkpoint
from sr_core.train.distributed import process_group
from sr_core.train.loop import train
from sr_core.train.objective import GeneratorObjective, shifted_crops
from sr_core.train.presets import PRESETS, TrainConfig, parse_set_pairs, preset, with_overrides
from sr_core.train.report import METRICS_NAME, REPORT_NAME, VALIDATION_COLUMNS, VALIDATION_NAME
from sr_core.weights import load_into, read_manifest, read_metadata, read_state_dict, sha256_file
from studio.cli import main


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten smooth 48 px colour images: eight to train on, two to validate (val_every=5)."""
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for index in range(10):
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((48, 48), Image.Resampling.BICUBIC).save(folder / f"{index}.png")
    return folder


def tiny_config(name: str, data: Path, **overrides: object) -> TrainConfig:
    """Preset ``name`` with a tiny network, 32 px crops, batch 2 and 2 steps, validating and saving at the end.

    Tiny networks run faster in the contiguous layout; the CLI test keeps the presets' channels_last.
    """
    config = preset(name)
    settings = {
        "data": [str(data)],
        "model_kwargs": TINY_ARCH_KWARGS[get_spec(config.model).architecture],
        "hr_crop": 32,
        "batch_size": 2,
        "steps": 2,
        "workers": 0,
        "val_every": 5,
        "validate_every": 2,
        "checkpoint_every": 2,
        "features": "random",
        "device": "cpu",
        "channels_last": False,
    }
    return with_overrides(config, {**settings, **overrides}, "test")


def run(config: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME) if resume else None
    with process_group(config.device) as group:
        return train(config, run_dir, group, checkpoint=checkpoint, progress=False)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_trains_a_few_steps_and_logs_its_losses_and_validation(
    name: str, tiny_data: Path, tmp_path: Path
) -> None:
    scores = run(tiny_config(name, tiny_data), tmp_path)
    checkpoint = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    rows = read_rows(tmp_path / METRICS_NAME)
    gan = preset(name).adversarial != "none"
    assert checkpoint["step"] == 2 and [row["step"] for row in rows] == ["1", "2"]
    assert all(np.isfinite(float(value)) for row in rows for value in row.values())
    assert {"lr", "seconds", "loss"} <= set(rows[0]) and (
        {"adversarial", "d_loss", "d_real", "d_fake"} <= set(rows[0])
    ) == gan
    assert (checkpoint["discriminator"] is not None) == gan
    [validation] = read_rows(tmp_path / VALIDATION_NAME)
    assert tuple(validation) == VALIDATION_COLUMNS and float(validation["bicubic_psnr_y"]) > 20.0
    assert np.isfinite(scores["psnr_y"]) and 0.0 <= scores["ssim_y"] <= 1.0
    assert "plotly" in (tmp_path / REPORT_NAME).read_text()


def test_srcnn_preset_trains_its_last_layer_ten_times_slower_as_the_paper_does(tiny_data: Path, tmp_path: Path) -> None:
    run(tiny_config("srcnn", tiny_data, steps=1, checkpoint_every=1), tmp_path)
    [optimizer] = load_checkpoint(tmp_path / CHECKPOINT_NAME)["optimizers"]
    assert sorted(group["lr"] for group in optimizer["param_groups"]) == pytest.approx([1e-5, 1e-4])


def test_gan_presets_weigh_their_losses_as_their_papers_do() -> None:
    assert (preset("srgan").adversarial, preset("srgan").adversarial_weight) == ("gan", 1e-3)
    assert preset("srgan").feature_scale == pytest.approx(1 / 12.75)
    assert (preset("esrgan").adversarial, preset("esrgan").adversarial_weight, preset("esrgan").pixel_weight) == (
        "ragan",
        5e-3,
        1e-2,
    )
    assert preset("esrgan").vgg_before_activation and preset("esrgan").content_criterion == "l1"
    assert (preset("swiftsrgan").content_loss, preset("swiftsrgan").mobilenet_mode) == ("mobilenet_v2", "paper")
    assert (preset("swiftsrgan_released").tv_weight, preset("swiftsrgan_released").gan_form) == (2e-8, "linear")


@pytest.mark.parametrize("term", ["lowpass", "phase", "line_phase"])
def test_a_gan_run_with_a_colour_anchor_or_a_phase_term_minimises_and_logs_it(
    term: str, tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config("srgan", tiny_data, **{f"{term}_weight": 2.0})
    assert GeneratorObjective(config).weights[term] == 2.0
    assert term not in GeneratorObjective(tiny_config("srgan", tiny_data)).weights
    run(config, tmp_path)
    assert all(float(row[term]) > 0.0 for row in read_rows(tmp_path / METRICS_NAME))


@pytest.mark.parametrize("name", ["srgan", "swiftsrgan"])
def test_a_phase_tied_gan_run_keeps_its_upsamplers_checkerboard_free_after_every_step(
    name: str, tiny_data: Path, tmp_path: Path
) -> None:
    run(tiny_config(name, tiny_data, tie_subpixel_phases=True), tmp_path / "tied")
    run(tiny_config(name, tiny_data), tmp_path / "free")
    spreads = {
        label: phase_gain_spread(load_weights(name, tmp_path / label / CHECKPOINT_NAME)) for label in ("tied", "free")
    }
    print(f"{name}: largest phase DC-gain difference {spreads}")
    assert spreads["tied"] < 1e-5 < spreads["free"]


def load_weights(name: str, checkpoint: Path) -> torch.nn.Module:
    """Model ``name`` (tiny) with the generator weights of a run's checkpoint."""
    model = build_model(name, **TINY_ARCH_KWARGS[get_spec(name).architecture])
    model.load_state_dict(load_checkpoint(checkpoint)["generator"])
    return model


def test_tying_phases_of_a_model_without_sub_pixel_layers_is_refused_before_any_data_loads() -> None:
    with pytest.raises(TrainingConfigError, match="no sub-pixel"):
        with_overrides(preset("esrgan_psnr"), {"tie_subpixel_phases": True}, "--set")
    assert with_overrides(preset("srgan"), {"tie_subpixel_phases": True}, "--set").tie_subpixel_phases


def test_model_kwargs_the_network_does_not_take_are_a_config_error() -> None:
    with pytest.raises(TrainingConfigError, match="model_kwargs do not fit srresnet.*bogus"):
        with_overrides(preset("srresnet"), {"model_kwargs": {"bogus": 1}}, "--set")
    assert with_overrides(preset("esrgan"), {"model_kwargs": {"num_block": 6}}, "--set").model_kwargs == {
        "num_block": 6
    }


def test_resume_continues_exactly_as_an_uninterrupted_run(tiny_data: Path, tmp_path: Path) -> None:
    # A GAN run exercises both networks, both optimisers, and here a learning-rate milestone inside the run.
    config = tiny_config("srgan_mse", tiny_data, steps=4, milestones=[2])
    run(config, tmp_path / "straight")
    run(replace(config, steps=2), tmp_path / "resumed")
    run(config, tmp_path / "resumed", resume=True)
    straight, resumed = (load_checkpoint(tmp_path / name / CHECKPOINT_NAME) for name in ("straight", "resumed"))
    for network in ("generator", "discriminator"):
        assert all(torch.equal(straight[network][key], resumed[network][key]) for key in straight[network])
    assert read_rows(tmp_path / "straight" / METRICS_NAME) == [
        {**row, "seconds": straight_row["seconds"]}
        for row, straight_row in zip(
            read_rows(tmp_path / "resumed" / METRICS_NAME), read_rows(tmp_path / "straight" / METRICS_NAME)
        )
    ]


def test_a_resumed_run_drops_log_rows_logged_after_its_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config("srresnet", tiny_data, steps=3)
    run(replace(config, steps=2), tmp_path)
    with open(tmp_path / METRICS_NAME, "a") as handle:
        handle.write("3,0.0001,0.1,9,9\n4,0.0001,0.1,9,9\n")
    run(config, tmp_path, resume=True)
    rows = read_rows(tmp_path / METRICS_NAME)
    assert [row["step"] for row in rows] == ["1", "2", "3"] and rows[-1]["loss"] != "9"


def test_a_run_folder_is_never_overwritten_without_resume(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config("srresnet", tiny_data, steps=1, checkpoint_every=1)
    run(config, tmp_path)
    with pytest.raises(TrainingConfigError, match="--resume"):
        run(config, tmp_path)


def test_init_from_a_run_folder_starts_the_generator_from_its_weights(tiny_data: Path, tmp_path: Path) -> None:
    run(tiny_config("srresnet", tiny_data, steps=1, checkpoint_every=1), tmp_path / "psnr")
    gan_config = tiny_config(
        "srgan_mse", tiny_data, steps=1, checkpoint_every=1, lr=0.0, init_from=str(tmp_path / "psnr")
    )
    run(gan_config, tmp_path / "gan")
    psnr, gan = (load_checkpoint(tmp_path / name / CHECKPOINT_NAME)["generator"] for name in ("psnr", "gan"))
    assert all(torch.equal(psnr[key], gan[key]) for key in psnr if "running" not in key and "batches" not in key)


def test_a_run_keeping_a_moving_average_trains_as_without_it_and_ships_the_average(
    tiny_data: Path, tmp_path: Path
) -> None:
    averaged = tiny_config("srgan_mse", tiny_data, steps=2, ema_decay=0.5)
    run(replace(averaged, ema_decay=0.0), tmp_path / "without")
    run(replace(averaged, steps=1, checkpoint_every=1), tmp_path / "with")
    after_one = load_checkpoint(tmp_path / "with" / CHECKPOINT_NAME)
    run(averaged, tmp_path / "with", resume=True)
    after_two, without = (load_checkpoint(tmp_path / name / CHECKPOINT_NAME) for name in ("with", "without"))

    weights, average, earlier_average = after_two["generator"], after_two[EMA_KEY], after_one[EMA_KEY]
    assert all(torch.equal(weights[key], without["generator"][key]) for key in weights)
    assert without[EMA_KEY] is None
    assert not all(torch.equal(earlier_average[key], after_one["generator"][key]) for key in earlier_average)
    parameters = {name for name, _ in load_weights("srgan", tmp_path / "with" / CHECKPOINT_NAME).named_parameters()}
    for key in parameters:  # the resumed run went on from the saved average: 0.5 * average + 0.5 * weights
        assert torch.allclose(average[key], 0.5 * earlier_average[key] + 0.5 * weights[key], atol=1e-6), key
    assert all(torch.equal(average[key], weights[key]) for key in set(average) - parameters)  # BN statistics

    exported = tmp_path / "srgan.safetensors"
    assert main(["export", str(tmp_path / "with"), str(exported)]) == 0
    assert all(
        torch.allclose(tensor.float(), average[key].float(), atol=1e-3)
        for key, tensor in read_state_dict(exported).items()
    )


def test_a_moving_average_decays_by_a_fraction_below_one() -> None:
    with pytest.raises(TrainingConfigError, match="ema_decay"):
        with_overrides(preset("srgan"), {"ema_decay": 1.0}, "--set")
    assert with_overrides(preset("srgan"), {"ema_decay": 0.999}, "--set").ema_decay == 0.999


def test_settings_from_yaml_and_set_pairs_take_their_fields_types(tmp_path: Path) -> None:
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("lr: 2e-4\nmilestones: [10, 20]\nmodel_kwargs: {num_block: 2}\n")
    config = main_config(["--preset", "esrgan_psnr", "--config", str(yaml_file), "--set", "gamma=0.25", "--lr", "3e-4"])
    assert (config.lr, config.milestones, config.gamma, config.model_kwargs) == (3e-4, (10, 20), 0.25, {"num_block": 2})
    assert parse_set_pairs(["betas=[0.5, 0.9]"]) == {"betas": [0.5, 0.9]}


def main_config(extra: list[str]) -> TrainConfig:
    from studio.cli import build_parser
    from studio.train_cli import run_config

    argv = ["train", "--out", "unused", "--data", "hr", *extra]
    return run_config(build_parser(argv).parse_args(argv), None)


def test_set_amp_off_means_the_word_although_yaml_reads_off_as_false() -> None:
    assert with_overrides(preset("srresnet"), parse_set_pairs(["amp=off"]), "--set").amp == "off"


def test_unknown_setting_is_a_one_line_error_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        ["train", "--preset", "srresnet", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--set", "lrr=1"]
    )
    assert code == 2
    assert "did you mean 'lr'" in capsys.readouterr().err


def test_a_resumed_run_refuses_to_change_what_it_learns(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run(tiny_config("srresnet", tiny_data, steps=1, checkpoint_every=1), tmp_path)
    assert main(["train", "--out", str(tmp_path), "--resume", "--lr", "1"]) == 2
    assert "keeps its configuration (lr given)" in capsys.readouterr().err


def tiny_cli_command(data: Path, run_dir: Path, tmp_path: Path) -> list[str]:
    """The documented ``train --preset NAME --data DIR --out RUN --steps N`` line for a tiny SRResNet."""
    yaml_file = tmp_path / "tiny.yaml"
    yaml_file.write_text("model_kwargs: {num_block: 1, num_feat: 8}\nval_every: 5\nworkers: 0\ndevice: cpu\n")
    return [
        "train",
        "--preset",
        "srresnet",
        "--data",
        str(data),
        "--out",
        str(run_dir),
        "--config",
        str(yaml_file),
        "--batch-size",
        "2",
        "--hr-crop",
        "32",
        "--no-progress",
    ]


def test_a_resumed_run_accepts_the_command_that_started_it(tiny_data: Path, tmp_path: Path) -> None:
    command = tiny_cli_command(tiny_data, tmp_path / "run", tmp_path)
    assert main([*command, "--steps", "1"]) == 0
    assert main([*command, "--steps", "2", "--resume"]) == 0
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["step"] == 2


def test_a_resumed_run_names_its_own_value_and_the_new_one_when_an_option_differs(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    command = tiny_cli_command(tiny_data, tmp_path / "run", tmp_path)
    assert main([*command, "--steps", "1"]) == 0
    capsys.readouterr()
    assert main([*command, "--steps", "2", "--resume", "--hr-crop", "48"]) == 2
    error = capsys.readouterr().err
    assert "hr_crop: the run has 32, the command gives 48" in error
    assert main([*command[:2], "esrgan_psnr", *command[3:], "--resume"]) == 2
    assert "preset: the run has 'srresnet', the command gives 'esrgan_psnr'" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["step"] == 1


def test_cli_trains_and_exports_safetensors_that_load_into_a_fresh_model(tiny_data: Path, tmp_path: Path) -> None:
    run_dir, exported = tmp_path / "run", tmp_path / "srresnet.safetensors"
    yaml_file = tmp_path / "tiny.yaml"
    yaml_file.write_text("model_kwargs: {num_block: 1, num_feat: 8}\nval_every: 5\nworkers: 0\ndevice: cpu\n")
    common = ["--data", str(tiny_data), "--out", str(run_dir), "--config", str(yaml_file), "--no-progress"]
    assert main(["train", "--preset", "srresnet", *common, "--steps", "2", "--batch-size", "2", "--hr-crop", "32"]) == 0
    assert main(["export", str(run_dir), str(exported)]) == 0

    model = build_model("srresnet", **TINY_ARCH_KWARGS["srresnet"])
    load_into(model, read_state_dict(exported))
    trained = load_checkpoint(run_dir / CHECKPOINT_NAME)["generator"]
    assert all(
        torch.allclose(model.state_dict()[key].float(), trained[key].float(), rtol=1e-3, atol=1e-3) for key in trained
    )
    metadata = read_metadata(exported)
    assert (metadata["preset"], metadata["steps"], metadata["features"]) == ("srresnet", "2", "none")
    assert {"validation_psnr_y", "validation_bicubic_psnr_y", "data"} <= set(metadata)


def train_in_subprocess(launcher: list[str], data: Path, run_dir: Path) -> None:
    """``python -m sr_core train`` on tiny esrgan_psnr (no batch norm, float32: DDP must match one process exactly)."""
    command = [
        *launcher,
        "-m",
        "sr_core",
        "train",
        "--preset",
        "esrgan_psnr",
        "--data",
        str(data),
        "--out",
        str(run_dir),
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--hr-crop",
        "32",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--set",
        "model_kwargs={num_block: 1, num_feat: 8, num_grow_ch: 4}",
        "--set",
        "val_every=5",
        "--set",
        "channels_last=false",
        "--set",
        "amp=off",
        "--no-progress",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=Path(__file__).parents[1], check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_torchrun_with_two_gloo_processes_trains_the_same_weights_as_one_process(
    tiny_data: Path, tmp_path: Path
) -> None:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    train_in_subprocess([sys.executable], tiny_data, tmp_path / "single")
    train_in_subprocess(torchrun, tiny_data, tmp_path / "ddp")

    single = load_checkpoint(tmp_path / "single" / CHECKPOINT_NAME)
    ddp = load_checkpoint(tmp_path / "ddp" / CHECKPOINT_NAME)
    assert ddp["step"] == single["step"] == 3
    initial = build_model("esrgan_psnr", num_block=1, num_feat=8, num_grow_ch=4).state_dict()
    assert any(not torch.equal(weight, initial[key]) for key, weight in single["generator"].items()), "nothing trained"
    for key, weight in single["generator"].items():
        torch.testing.assert_close(ddp["generator"][key], weight, rtol=1e-4, atol=1e-5)


def test_publish_bundles_a_run_with_the_scores_evaluate_prints(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir, weights = tmp_path / "run", tmp_path / "weights"
    run(tiny_config("srresnet", tiny_data), run_dir)
    assert main(["publish", str(run_dir), "--eval", str(tiny_data), "--weights-dir", str(weights)]) == 0

    entry = read_manifest(weights)["srresnet"]
    assert entry.file == "srresnet.safetensors" and entry.sha256 == sha256_file(weights / entry.file)
    assert entry.arch_kwargs == TINY_ARCH_KWARGS["srresnet"]
    assert (entry.training["preset"], entry.training["steps"], entry.training["features"]) == ("srresnet", 2, "none")
    departures = entry.training["changed_from_preset"]
    assert departures["hr_crop"] == 32 and departures["batch_size"] == 2 and "lr" not in departures
    assert "steps" not in departures and "data" not in departures
    assert entry.training["total_steps"] == 2 and [stage["preset"] for stage in entry.training["stages"]] == [
        "srresnet"
    ]
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--models",
                "srresnet",
                "--data",
                str(tiny_data),
                "--weights",
                f"srresnet={weights / entry.file}",
            ]
        )
        == 0
    )
    printed = next(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("srresnet"))
    hr_folder = tiny_data.name.lower()
    assert float(printed[1]) == pytest.approx(entry.scores[f"{hr_folder}_psnr_y"], abs=0.0051)
    assert float(printed[2]) == pytest.approx(entry.scores[f"{hr_folder}_ssim_y"], abs=0.000051)
    assert float(printed[3]) == pytest.approx(entry.scores[f"{hr_folder}_lpips"], abs=0.000051)
    assert float(printed[4]) == pytest.approx(entry.scores[f"{hr_folder}_detail_ratio"], abs=0.0051)
    assert float(printed[5]) == pytest.approx(entry.scores[f"{hr_folder}_colour_shift_max"], abs=0.0051)
    assert float(printed[6]) == pytest.approx(entry.scores[f"{hr_folder}_stripe_score"], abs=0.0051)


def test_a_fine_tuned_run_publishes_every_stage_back_to_the_first(tiny_data: Path, tmp_path: Path) -> None:
    first, second, weights = tmp_path / "psnr", tmp_path / "fine-tune", tmp_path / "weights"
    run(tiny_config("srresnet", tiny_data), first)
    run(tiny_config("srresnet", tiny_data, init_from=str(first), lr=1e-5, steps=3), second)
    assert main(["publish", str(second), "--weights-dir", str(weights)]) == 0

    training = read_manifest(weights)["srresnet"].training
    assert (training["steps"], training["total_steps"]) == (3, 5)
    assert [(stage["steps"], stage["lr"]) for stage in training["stages"]] == [(2, 1e-4), (3, 1e-5)]
    assert training["stages"][1]["changed_from_preset"]["lr"] == 1e-5


def test_fine_tuning_a_published_file_keeps_its_history_and_replaces_it(tiny_data: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    run(tiny_config("srresnet", tiny_data), tmp_path / "psnr")
    assert main(["publish", str(tmp_path / "psnr"), "--weights-dir", str(weights)]) == 0
    published = weights / "srresnet.safetensors"
    run(tiny_config("srresnet", tiny_data, init_from=str(published), lr=1e-5, steps=3), tmp_path / "fine-tune")
    assert main(["publish", str(tmp_path / "fine-tune"), "--weights-dir", str(weights)]) == 0

    entry = read_manifest(weights)["srresnet"]
    assert entry.sha256 == sha256_file(published)
    assert [(stage["steps"], stage["lr"]) for stage in entry.training["stages"]] == [(2, 1e-4), (3, 1e-5)]
    assert entry.training["total_steps"] == 5


def test_publishing_a_fine_tune_again_counts_the_stages_before_it_once(tiny_data: Path, tmp_path: Path) -> None:
    weights, fine_tune = tmp_path / "weights", tmp_path / "fine-tune"
    run(tiny_config("srresnet", tiny_data), tmp_path / "psnr")
    assert main(["publish", str(tmp_path / "psnr"), "--weights-dir", str(weights)]) == 0
    run(tiny_config("srresnet", tiny_data, init_from=str(weights / "srresnet.safetensors"), steps=3), fine_tune)
    assert main(["publish", str(fine_tune), "--weights-dir", str(weights)]) == 0  # replaces the file it started from
    assert main(["publish", str(fine_tune), "--weights-dir", str(weights)]) == 0

    training = read_manifest(weights)["srresnet"].training
    assert [stage["steps"] for stage in training["stages"]] == [2, 3] and training["total_steps"] == 5


def test_fine_tuning_an_unlisted_weights_file_names_it_as_the_first_stage(tiny_data: Path, tmp_path: Path) -> None:
    weights, loose = tmp_path / "weights", tmp_path / "loose"
    run(tiny_config("srresnet", tiny_data), tmp_path / "psnr")
    assert main(["publish", str(tmp_path / "psnr"), "--weights-dir", str(loose)]) == 0
    (loose / "manifest.json").unlink()
    run(
        tiny_config("srresnet", tiny_data, init_from=str(loose / "srresnet.safetensors"), steps=3),
        tmp_path / "fine-tune",
    )
    assert main(["publish", str(tmp_path / "fine-tune"), "--weights-dir", str(weights)]) == 0

    stages = read_manifest(weights)["srresnet"].training["stages"]
    assert stages[0] == {"init_from": "srresnet.safetensors"} and stages[1]["steps"] == 3


@pytest.mark.parametrize("native", [True, False])
def test_cpu_runs_autocast_to_bf16_only_where_the_cpu_has_it_in_hardware(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native else None
    assert loop.autocast_dtype("auto", cpu) is expected and loop.autocast_dtype("bf16", cpu) is expected
    assert loop.autocast_dtype("off", cpu) is None and loop.autocast_dtype("fp16", cpu) is None


def test_the_discriminator_sees_each_image_cropped_at_its_own_random_offset() -> None:
    batch = torch.arange(32 * 3 * 24 * 24, dtype=torch.float32).view(32, 3, 24, 24)
    assert shifted_crops(batch, 0) is batch
    cropped = shifted_crops(batch, 8)
    assert cropped.shape == (32, 3, 16, 16)
    offsets = set()
    for image, crop in zip(batch, cropped):
        start = int(crop[0, 0, 0] - image[0, 0, 0])
        top, left = divmod(start, 24)
        assert 0 <= top <= 8 and 0 <= left <= 8
        assert torch.equal(crop, image[:, top : top + 16, left : left + 16])
        offsets.add((top, left))
    assert len(offsets) > 8, "offsets are drawn per image, not once per batch"


@pytest.mark.parametrize("key", ["discriminator_shift", "content_shift"])
def test_a_grid_shift_must_leave_most_of_the_crop(key: str) -> None:
    with pytest.raises(TrainingConfigError, match=key):
        with_overrides(preset("srgan"), {key: 48}, "--set")
    with pytest.raises(TrainingConfigError, match=key):
        with_overrides(preset("srgan"), {key: -1}, "--set")
    assert getattr(with_overrides(preset("srgan"), {key: 16}, "--set"), key) == 16


def test_the_content_loss_compares_sr_and_hr_cropped_at_the_same_offsets() -> None:
    config = replace(preset("srgan"), features="random", content_shift=8)
    objective = GeneratorObjective(config)
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
            seen.append((sr, hr))
            return torch.zeros(())

    objective.content = Recorder()
    hr = torch.rand(6, 3, 32, 32)
    objective(hr.clone(), hr)
    sr_crops, hr_crops = seen[0]
    assert sr_crops.shape == (6, 3, 24, 24) and torch.equal(sr_crops, hr_crops), "one offset per pair, not per image"


def test_rescore_measures_an_int8_model_as_both_kinds_of_cpu_run_it_and_a_float_one_as_evaluate_does(
    tiny_weights, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sr_core.quant import publish
    from sr_core.train.publish import rescore_bundled
    from sr_core.weights import WeightsEntry, write_manifest

    folder = tiny_weights("srresnet")
    int8_entry = WeightsEntry(model="srresnet-int8", file="srresnet.safetensors", sha256="0" * 64)
    write_manifest({**read_manifest(folder), "srresnet-int8": int8_entry}, folder)
    asked = []
    monkeypatch.setattr(publish, "scores_on_both_kinds_of_cpu", lambda name, folders: asked.append(name) or {"x": 1.0})
    float_entry, rescored_int8 = rescore_bundled(["srresnet", "srresnet-int8"], [tiny_data])
    assert asked == ["srresnet-int8"] and rescored_int8.scores["x"] == 1.0
    assert f"{tiny_data.name.lower()}_psnr_y" in float_entry.scores
    assert read_manifest(folder)["srresnet-int8"].scores["x"] == 1.0
