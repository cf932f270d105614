"""``python -m sr_core zscgan`` and ``python -m sr_core quantize`` end to end on tiny settings."""

from pathlib import Path

import numpy as np
import pytest
from idx_files import write_tiny_mnist
from PIL import Image

from studio.cli import main

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_zscgan_prints_both_tables_and_saves_results_and_sample_grids(tmp_path, capsys):
    write_tiny_mnist(tmp_path / "mnist", train_count=40, test_count=20)
    out = tmp_path / "run"
    code = main(
        [
            "zscgan",
            "--data",
            str(tmp_path / "mnist"),
            "--out",
            str(out),
            "--teacher-epochs",
            "1",
            "--generator-steps",
            "2",
            "--qat-steps",
            "1",
            "--batch-size",
            "8",
            "--width",
            "8",
            "--losses",
            "ce+bns,bns",
            "--bits",
            "8,6",
            "--calibration-samples",
            "20",
            "--threads",
            "1",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "| INT8 |" in printed and "| INT6 |" in printed and "ZS-CGAN (BNS)" in printed
    assert {"results.csv", "tables.md", "samples-ce+bns.png", "samples-bns.png", "teacher.safetensors"} <= {
        path.name for path in out.iterdir()
    }
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0] == "source,method,bits,accuracy"
    assert len(rows) == 1 + 1 + 3 * 2 + 2 * 2 + 1  # header, fp32, PTQ per source and width, QAT jobs
    assert Image.open(out / "samples-bns.png").size[0] > 10 * 28


def test_zscgan_rejects_an_unknown_loss_set_with_one_line(tmp_path, capsys):
    write_tiny_mnist(tmp_path / "mnist")
    code = main(["zscgan", "--data", str(tmp_path / "mnist"), "--out", str(tmp_path / "run"), "--losses", "ce+kl"])
    assert code == 2 and "unknown loss set" in capsys.readouterr().err


def _image_folder(folder: Path) -> Path:
    folder.mkdir()
    random = np.random.default_rng(0)
    for index in range(2):
        Image.fromarray(random.integers(0, 256, (48, 56, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def test_quantize_compares_fp32_with_int8_calibrated_data_free_and_on_real_crops(tiny_weights, tmp_path, capsys):
    tiny_weights("swiftsrgan")
    images = _image_folder(tmp_path / "images")
    code = main(
        [
            "quantize",
            "--model",
            "swiftsrgan",
            "--calib",
            "data-free",
            "--calib",
            str(images),
            "--data",
            str(images),
            "--generator-steps",
            "2",
            "--batches",
            "1",
            "--batch-size",
            "2",
            "--crop",
            "8",
            "--out",
            str(tmp_path / "out"),
            "--threads",
            "1",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    lines = printed.splitlines()
    assert any(line.startswith("fp32") for line in lines)
    assert any(line.startswith("int8 data-free") for line in lines)
    assert any(line.startswith("int8 real crops (images)") for line in lines)
    assert (tmp_path / "out" / "swiftsrgan-lr-samples.png").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--calib", "/no/such/folder"], "data-free"),
        (["--crop", "10"], "multiple of 4"),
    ],
)
def test_quantize_bad_input_is_one_line_and_exit_code_2(tiny_weights, capsys, arguments, message):
    tiny_weights("swiftsrgan")
    code = main(["quantize", "--model", "swiftsrgan", "--generator-steps", "1", "--threads", "1", *arguments])
    assert code == 2 and message in capsys.readouterr().err


def test_data_free_calibration_of_a_model_without_batch_norm_is_refused(tiny_weights, capsys):
    tiny_weights("srcnn")
    assert main(["quantize", "--model", "srcnn", "--calib", "data-free", "--threads", "1"]) == 2
    assert "BatchNorm2d" in capsys.readouterr().err


def test_quantize_without_weights_says_how_to_get_them(tiny_weights, capsys):
    tiny_weights("srcnn")
    assert main(["quantize", "--model", "srresnet"]) == 2
    assert "--weights" in capsys.readouterr().err
