"""``python -m sr_core``: the stable command line (commands, flags, exit codes)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from odd_images import EXPECTED_SIZES
from PIL import Image

from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _png(path: Path, mode: str = "RGB", size=(12, 9)) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode).save(path)
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_cli_gives_a_result_or_a_one_line_error_for_every_odd_image(
    name, odd_images_folder, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SR_STUDIO_PIXEL_CAP", raising=False)
    output = tmp_path / "out.png"
    code = main(["upscale", str(odd_images_folder / name), str(output), "--model", "bicubic"])
    captured = capsys.readouterr()
    upright = EXPECTED_SIZES[name]
    if upright is not None:
        assert code == 0, captured.err
        with Image.open(output) as result:
            assert result.size == (upright[0] * 4, upright[1] * 4)
    else:
        assert code == 2
        assert not output.exists()
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err


def test_upscale_keeps_alpha_and_reports_size_and_time(tmp_path, capsys):
    source = _png(tmp_path / "in.png", mode="RGBA")
    assert main(["upscale", str(source), str(tmp_path / "out.png"), "--model", "nearest"]) == 0
    assert "12x9 -> 48x36" in capsys.readouterr().out
    with Image.open(tmp_path / "out.png") as result:
        assert result.mode == "RGBA"


def test_upscale_refuses_an_unknown_model_and_a_lossy_output(tmp_path, capsys):
    source = _png(tmp_path / "in.png")
    assert main(["upscale", str(source), str(tmp_path / "out.png"), "--model", "magic"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["upscale", str(source), str(tmp_path / "out.jpg")]) == 2


def test_upscale_without_bundled_weights_says_how_to_get_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(tmp_path / "no_weights"))
    source = _png(tmp_path / "in.png")
    assert main(["upscale", str(source), str(tmp_path / "out.png"), "--model", "srresnet"]) == 2
    assert "--weights" in capsys.readouterr().err


def test_upscale_refuses_weights_of_another_architecture(tmp_path, capsys):
    from sr_core.registry import build_model
    from sr_core.weights import save_weights

    weights = tmp_path / "swift.safetensors"
    save_weights(build_model("swiftsrgan", num_blocks=1, num_channels=8), weights)
    source = _png(tmp_path / "in.png")
    assert (
        main(["upscale", str(source), str(tmp_path / "out.png"), "--model", "esrgan", "--weights", str(weights)]) == 2
    )
    assert "error:" in capsys.readouterr().err


def test_evaluate_prints_a_papers_style_table_and_writes_csv(tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    for index in range(2):
        _png(data / f"img{index}.png", size=(32, 24))
    (data / "SOURCES.md").write_text("not an image")
    csv_path = tmp_path / "scores.csv"
    assert main(["evaluate", "--models", "bicubic,nearest,srresnet", "--data", str(data), "--csv", str(csv_path)]) == 0
    captured = capsys.readouterr()
    assert "PSNR" in captured.out and "bicubic" in captured.out and "nearest" in captured.out
    assert "skipped srresnet" in captured.err
    rows = csv_path.read_text().splitlines()
    # The first seven columns are a contract; the GAN checks, LPIPS and the stripe score were appended after them.
    assert rows[0] == "data,model,image,psnr_y,ssim_y,seconds,parameters,detail_ratio,colour_shift,lpips,stripe_score"
    assert len(rows) == 1 + 2 * 3
    assert all(row.split(",")[9] == "" for row in rows[1:]), "24 px is under AlexNet-LPIPS's 31 px: no LPIPS, no crash"
    nearest_mean = next(row.split(",") for row in rows if row.startswith(f"{data},nearest,mean"))
    bicubic_mean = next(row.split(",") for row in rows if row.startswith(f"{data},bicubic,mean"))
    assert float(nearest_mean[7]) > float(bicubic_mean[7]), "nearest's blocky edges carry more high frequencies"


def test_models_lists_parameter_counts_and_weights(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "16,697,987" in out and "201,209" in out and "swiftsrgan" in out


def test_models_says_when_the_bundled_weights_are_smaller_than_the_paper_network(tiny_weights, capsys):
    tiny_weights("esrgan", "srcnn")
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "yes (num_block=1, num_feat=8, num_grow_ch=4)" in rows["esrgan"] and "16,697,987" in rows["esrgan"]
    assert rows["srcnn"].split()[2] == "yes" and rows["esrgan_psnr"].split()[2] == "no"


def test_python_dash_m_entry_point_exits_two_on_bad_input(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"")
    completed = subprocess.run(
        [sys.executable, "-m", "sr_core", "upscale", str(tmp_path / "bad.png"), str(tmp_path / "o.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ") and "Traceback" not in completed.stderr
