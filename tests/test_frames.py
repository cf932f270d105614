"""``upscale-frames``: a folder of frames streamed through a model gives what ``upscale`` gives each frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_core.errors import SRStudioError
from sr_core.imaging import open_image
from sr_core.inference import upscale_image
from studio.cli import main
from studio.frames import upscale_frames


def write_frames(folder: Path, count: int, size: tuple[int, int] = (12, 10)) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"frame_{index:03d}.png"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_every_frame_is_written_as_upscale_would_write_it(tiny_weights, tmp_path):
    tiny_weights("swiftsrgan")
    frames = write_frames(tmp_path / "in", 6)
    report = upscale_frames(tmp_path / "in", tmp_path / "out", "swiftsrgan")

    assert [path.name for path in report.written] == [path.name for path in frames]
    assert report.skipped == [] and report.frames_per_second > 0
    for frame in frames:
        expected = upscale_image(open_image(frame), "swiftsrgan").rgb
        written = open_image(tmp_path / "out" / frame.name).rgb
        assert written.shape == (40, 48, 3)
        assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6


def test_an_unreadable_frame_is_skipped_with_its_reason_and_the_stream_goes_on(tmp_path):
    write_frames(tmp_path / "in", 2)
    (tmp_path / "in" / "frame_001.png").write_bytes(b"")
    report = upscale_frames(tmp_path / "in", tmp_path / "out", "bicubic")
    assert [path.name for path in report.written] == ["frame_000.png"]
    assert report.skipped[0][0] == "frame_001.png" and "empty" in report.skipped[0][1].lower()


def test_frames_whose_names_would_collide_are_refused_before_anything_is_written(tmp_path):
    write_frames(tmp_path / "in", 1)
    Image.new("RGB", (4, 4)).save(tmp_path / "in" / "frame_000.jpg")
    with pytest.raises(SRStudioError, match="frame_000"):
        upscale_frames(tmp_path / "in", tmp_path / "out", "bicubic")
    assert not (tmp_path / "out").exists()


def test_cli_streams_a_folder_and_exits_2_on_an_empty_one(tmp_path, capsys):
    write_frames(tmp_path / "in", 3)
    assert main(["upscale-frames", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "bicubic"]) == 0
    assert "3 frames" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["upscale-frames", str(tmp_path / "empty"), str(tmp_path / "out2"), "--model", "bicubic"]) == 2
    assert "no images" in capsys.readouterr().err


def test_cli_streams_a_folder_through_a_users_model_file_at_its_own_scale_as_upscale_does(tmp_path, capsys):
    from spandrel_models import save_tiny_model

    write_frames(tmp_path / "in", 2)
    weights = save_tiny_model("compact", tmp_path / "models", scale=2)
    assert main(["upscale-frames", str(tmp_path / "in"), str(tmp_path / "out"), "--weights", str(weights)]) == 0
    assert capsys.readouterr().out.startswith("compact_x2.safetensors (RealESRGAN Compact): 2 frames")
    assert (
        main(["upscale", str(tmp_path / "in" / "frame_001.png"), str(tmp_path / "one.png"), "--weights", str(weights)])
        == 0
    )
    streamed, single = Image.open(tmp_path / "out" / "frame_001.png"), Image.open(tmp_path / "one.png")
    assert streamed.size == (24, 20) and np.array_equal(np.asarray(streamed), np.asarray(single))
