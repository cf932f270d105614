"""The README's side-by-side figure: every model's crop and the HR's, labelled, in one PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio import figures
from studio.cli import main
from studio.figures import LABEL_HEIGHT, comparison_strip, tile_label
from studio.services.compare import DONE, CompareOutput
from studio.services.model_choices import NO_WEIGHTS


def test_the_strip_holds_one_labelled_tile_per_model_plus_the_hr(tiny_weights, tmp_path):
    tiny_weights("srcnn")
    image = tmp_path / "hr.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)
    strip = comparison_strip(image, ["bicubic", "srcnn", "esrgan"], size=32, factor=2)
    assert strip.dtype == np.uint8
    assert strip.shape == (64 + LABEL_HEIGHT, 4 * 64 + 3 * 4, 3)
    hr_tile = strip[:64, -64:]
    expected = np.repeat(np.repeat(np.asarray(Image.open(image))[16:48, 16:48], 2, axis=0), 2, axis=1)
    assert np.array_equal(hr_tile, expected)


def test_figure_command_writes_the_png(tmp_path, capsys):
    image = tmp_path / "hr.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(image)
    assert main(["figure", str(image), str(tmp_path / "strip.png"), "--models", "nearest,bicubic", "--size", "16"]) == 0
    assert Image.open(tmp_path / "strip.png").size == (3 * 48 + 2 * 4, 48 + LABEL_HEIGHT)
    assert main(["figure", str(image), str(tmp_path / "x.png"), "--center", "middle"]) == 2


def test_a_tile_label_gives_psnr_and_lpips_and_leaves_out_what_was_not_measured():
    scored = CompareOutput("esrgan", None, DONE, 0.1, 1, 27.456, 0.71, 0.1234)
    assert tile_label(scored) == "esrgan\n27.46 dB, LPIPS 0.123"
    assert tile_label(CompareOutput("srcnn", None, DONE, 0.1, 1, 27.456, 0.71)) == "srcnn\n27.46 dB"
    assert tile_label(CompareOutput("srgan", None, NO_WEIGHTS)) == f"srgan: {NO_WEIGHTS}"


def test_the_strips_labels_carry_each_models_lpips_on_the_whole_image(tmp_path, monkeypatch):
    image = tmp_path / "hr.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)
    labels = []
    drawn = figures.labelled_tile
    monkeypatch.setattr(figures, "labelled_tile", lambda rgb, label: labels.append(label) or drawn(rgb, label))
    comparison_strip(image, ["nearest", "bicubic"], size=32, factor=2)
    assert [label.split("\n")[0] for label in labels] == ["nearest", "bicubic", "HR (ground truth)"]
    assert all(", LPIPS 0." in label for label in labels[:2])
