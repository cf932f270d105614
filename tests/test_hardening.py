"""Every upload path of the app and every CLI path survives awkward files, unsafe weights and a full disk.

The inputs are the catalogue of ``odd_images.py`` (empty, truncated, text, SVG/HTML, a
decompression bomb, over the pixel cap, 1x1, 2000x1, 16-bit, float, palette, CMYK, LA/RGBA,
animated with differing frames, EXIF-rotated). Each must give a correct result or a clear
one-line message (``gr.Error`` in the app, exit code 2 on the command line), never a
traceback, and within a time bound, never a hung worker. The CLI's ``upscale`` runs over the
same catalogue in ``test_cli.py``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
import torch
from odd_images import EXPECTED_SIZES, first_frame_upright
from PIL import Image

import app
from sr_core import imaging
from sr_core.errors import SRStudioError
from sr_core.imaging import LoadedImage, to_float, to_uint8
from sr_core.inference import upscale_image
from sr_core.protocol import IMAGE_SUFFIXES, MIN_HR_SIDE
from sr_core.registry import build_model
from sr_core.weights import save_weights
from studio import cli
from studio.cli import main
from studio.services import outputs, uploads
from studio.ui import compare_tab, interpolate_tab, upscale_tab

# Generous: every call here takes well under a second; a hang (decoding a bomb) would take minutes.
CALL_LIMIT_S = 60
GAN_PAIR = "esrgan"
REFUSED = [name for name, size in EXPECTED_SIZES.items() if size is None]
READABLE = [name for name, size in EXPECTED_SIZES.items() if size is not None]


@pytest.fixture(autouse=True)
def default_cap_and_offline_gradio(monkeypatch):
    monkeypatch.delenv("SR_STUDIO_PIXEL_CAP", raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def app_models(tiny_weights):
    """Tiny weights for a learned model and an interpolation pair, so the networks really run."""
    tiny_weights("srcnn", "esrgan_psnr", "esrgan")


def within_time(call: Callable[[], Any]) -> Any:
    """``call()``'s result, failing the test (instead of hanging it) when it takes over CALL_LIMIT_S."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=CALL_LIMIT_S)
    finally:
        pool.shutdown(wait=False)


def _size(path: str | Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _times_four(size: tuple[int, int]) -> tuple[int, int]:
    return size[0] * 4, size[1] * 4


def _upscale_tab(path: str) -> list[tuple[int, int]]:
    image_path, file_path, summary = upscale_tab.upscale_upload(path, "srcnn")
    assert image_path == file_path and "srcnn:" in summary
    return [_size(image_path)]


def _compare_tab(mode: str) -> Callable[[str], list[tuple[int, int]]]:
    def run(path: str) -> list[tuple[int, int]]:
        *_, last = compare_tab.run_comparison(path, mode, ["bicubic", "srcnn"])
        view = last[5]
        return [_size(output.path) for output in view.outputs if output.name in ("bicubic", "srcnn")]

    return run


def _interpolate_tab(path: str) -> list[tuple[int, int]]:
    network_path, image_path, _ = interpolate_tab.interpolate_upload(path, uploads.LOW_RESOLUTION, GAN_PAIR, 0.5)
    return [_size(network_path), _size(image_path)]


def _ground_truth_size(upright: tuple[int, int] | None) -> tuple[int, int] | None:
    """What the Compare tab's models return for a ground-truth upload: the HR cropped to a multiple of 4."""
    if upright is None or min(upright) < MIN_HR_SIDE:
        return None
    return upright[0] - upright[0] % 4, upright[1] - upright[1] % 4


APP_PATHS: dict[str, tuple[Callable[[str], list[tuple[int, int]]], Callable[[Any], Any]]] = {
    "upscale": (_upscale_tab, lambda upright: upright and _times_four(upright)),
    "compare_low_resolution": (_compare_tab(uploads.LOW_RESOLUTION), lambda upright: upright and _times_four(upright)),
    "compare_ground_truth": (_compare_tab(uploads.GROUND_TRUTH), _ground_truth_size),
    "interpolate": (_interpolate_tab, lambda upright: upright and _times_four(upright)),
}


@pytest.mark.parametrize("path_name", list(APP_PATHS))
@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_every_app_upload_path_gives_a_result_or_a_clear_message_for_every_odd_file(
    name, path_name, odd_images_folder, app_models
):
    handler, expected_size = APP_PATHS[path_name]
    expected = expected_size(EXPECTED_SIZES[name])
    upload = str(odd_images_folder / name)
    if expected is not None:
        sizes = within_time(lambda: handler(upload))
        assert sizes and all(size == expected for size in sizes), sizes
        return
    with pytest.raises(gr.Error) as refused:
        within_time(lambda: handler(upload))
    message = str(refused.value)
    assert len(message) > 30 and "\n" not in message and "Traceback" not in message, message


@pytest.mark.parametrize("name", ["animated.gif", "animated.png", "exif_rotated.jpg"])
def test_the_app_upscales_the_first_frame_turned_upright(name, odd_images_folder):
    image_path, _, summary = upscale_tab.upscale_upload(str(odd_images_folder / name), "bicubic")
    shown = first_frame_upright(odd_images_folder / name)
    reference = LoadedImage(to_float(shown), None, False, 8, (), "RGB")
    expected = to_uint8(upscale_image(reference, "bicubic").rgb)
    with Image.open(image_path) as served:
        assert np.array_equal(np.asarray(served.convert("RGB")), expected)
    assert ("first frame" if name.startswith("animated") else "EXIF orientation") in summary


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_cli_evaluate_scores_each_odd_file_or_refuses_it_in_one_line(name, odd_images_folder, tmp_path, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    os.symlink(odd_images_folder / name, data / name)
    upright = EXPECTED_SIZES[name]
    csv_path = tmp_path / "scores.csv"
    code = within_time(lambda: main(["evaluate", "--models", "bicubic", "--data", str(data), "--csv", str(csv_path)]))
    captured = capsys.readouterr()
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        assert code == 2 and "no images found" in captured.err
    elif upright is None or min(upright) < MIN_HR_SIDE:
        assert code == 2, captured.out
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
        assert name in captured.err
    else:
        assert code == 0, captured.err
        rows = csv_path.read_text().splitlines()
        assert len(rows) == 3 and rows[1].split(",")[2] == Path(name).stem


# --- weights: pickles never run, damaged files are refused clearly ------------------------------


class _MakesFolder:
    """Unpickling this runs ``os.mkdir(marker)``: code execution, which loading must never allow."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def malicious_checkpoint(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "created_by_pickle"
    state = build_model("srcnn").state_dict()
    path = tmp_path / "srcnn_x4.pth"
    torch.save({"params": state, "hook": _MakesFolder(marker)}, path)
    return path, marker


@pytest.mark.parametrize("command", ["upscale", "evaluate"])
def test_a_malicious_pickle_given_to_the_cli_is_refused_and_never_runs(command, malicious_checkpoint, tmp_path, capsys):
    weights, marker = malicious_checkpoint
    image = tmp_path / "hr" / "image.png"
    image.parent.mkdir()
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(image)
    arguments = {
        "upscale": ["upscale", str(image), str(tmp_path / "out.png"), "--model", "srcnn", "--weights", str(weights)],
        "evaluate": ["evaluate", "--models", "srcnn", "--data", str(image.parent), "--weights", f"srcnn={weights}"],
    }[command]
    assert main(arguments) == 2
    assert "pickled code" in capsys.readouterr().err
    assert not marker.exists()


def _small_image(folder: Path) -> Path:
    image = folder / "image.png"
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(image)
    return image


def test_upscale_without_model_a_malicious_pickle_is_refused_and_never_runs(malicious_checkpoint, tmp_path, capsys):
    weights, marker = malicious_checkpoint
    assert main(["upscale", str(_small_image(tmp_path)), str(tmp_path / "out.png"), "--weights", str(weights)]) == 2
    assert "pickled code" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("model", [[], ["--model", "auto"]])
def test_upscale_without_model_runs_the_model_the_weights_file_holds(model, tmp_path, capsys):
    torch.manual_seed(0)
    network = build_model("srcnn")
    official = tmp_path / "srcnn_x4.pth"
    torch.save({"state_dict": network.state_dict()}, official)
    exported = tmp_path / "mine.safetensors"
    save_weights(build_model("swiftsrgan"), exported, {"model": "swiftsrgan"})
    image = _small_image(tmp_path)
    for weights, expected in ((official, "srcnn"), (exported, "swiftsrgan")):
        assert main(["upscale", str(image), str(tmp_path / "out.png"), *model, "--weights", str(weights)]) == 0
        assert capsys.readouterr().out.startswith(f"{expected}: 24x24 -> 96x96")
    reference = upscale_image(imaging.open_image(image), "srcnn", weights_file=str(official))
    assert main(["upscale", str(image), str(tmp_path / "again.png"), "--weights", str(official)]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")), to_uint8(reference.rgb))


@pytest.mark.parametrize("case", ["random_bytes", "discriminator", "not_an_sr_network", "baseline_model"])
def test_upscale_refuses_a_weights_file_it_cannot_run_instead_of_ignoring_it(case, tmp_path, capsys):
    weights = tmp_path / "weights.pth"
    if case == "random_bytes":
        weights.write_bytes(np.random.default_rng(0).bytes(4000))
    elif case == "discriminator":
        torch.save(build_model("srgan_discriminator").state_dict(), weights)
    elif case == "not_an_sr_network":
        torch.save(torch.nn.Linear(3, 3).state_dict(), weights)
    else:
        torch.save(build_model("srcnn").state_dict(), weights)
    model = ["--model", "bicubic"] if case == "baseline_model" else []
    assert (
        main(["upscale", str(_small_image(tmp_path)), str(tmp_path / "out.png"), *model, "--weights", str(weights)])
        == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert {
        "random_bytes": "not a readable",
        "discriminator": "does not upscale",
        "not_an_sr_network": "do not match any SR Studio architecture",
        "baseline_model": "takes no weights",
    }[case] in error
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("damage", ["header_length", "truncated_tensors"])
def test_a_corrupt_safetensors_file_given_to_the_cli_is_refused_in_one_line(damage, tmp_path, capsys):
    weights = tmp_path / "srcnn.safetensors"
    save_weights(build_model("srcnn"), weights)
    data = weights.read_bytes()
    weights.write_bytes((2**40).to_bytes(8, "little") + data[8:] if damage == "header_length" else data[:-100])
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    assert main(["upscale", str(image), str(tmp_path / "out.png"), "--model", "srcnn", "--weights", str(weights)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "srcnn.safetensors" in error and error.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


# --- a full disk while saving a result ----------------------------------------------------------


class _FillingFile:
    """A file on a disk that fills up after ``room`` bytes: the rest of a write fails with ENOSPC."""

    def __init__(self, handle: Any, room: int):
        self.handle, self.room = handle, room

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            self.handle.write(data[: self.room])
            self.handle.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()


def fill_disk_for(monkeypatch: pytest.MonkeyPatch, module: Any, room: int = 64) -> None:
    """Make every file ``module`` opens for writing run out of space after ``room`` bytes (the bytes land on disk)."""

    def opening(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = open(file, mode, *args, **kwargs)
        return _FillingFile(handle, room) if any(flag in mode for flag in "wxa") else handle

    monkeypatch.setattr(module, "open", opening, raising=False)


def test_a_full_disk_while_the_cli_saves_an_upscale_says_so_and_keeps_the_earlier_result(tmp_path, monkeypatch, capsys):
    source, output = tmp_path / "in.png", tmp_path / "out" / "result.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(source)
    output.parent.mkdir()
    output.write_bytes(b"the earlier result")
    fill_disk_for(monkeypatch, imaging)
    assert main(["upscale", str(source), str(output), "--model", "bicubic"]) == 2
    assert capsys.readouterr().err.startswith("error: No space left on device")
    assert output.read_bytes() == b"the earlier result"
    assert [path.name for path in output.parent.iterdir()] == ["result.png"], "no partial file is left"


def test_a_full_disk_while_evaluate_writes_its_csv_keeps_the_earlier_csv(tmp_path, monkeypatch, capsys):
    data = tmp_path / "hr"
    data.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), np.uint8)).save(data / "a.png")
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("data,model,image\nearlier,run,kept\n")
    fill_disk_for(monkeypatch, cli, room=10)
    assert main(["evaluate", "--models", "bicubic", "--data", str(data), "--csv", str(csv_path)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert csv_path.read_text() == "data,model,image\nearlier,run,kept\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hr", "scores.csv"]


def test_a_full_disk_while_the_app_saves_an_upscale_is_a_clear_message(tmp_path, monkeypatch):
    source = tmp_path / "in.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(source)
    output_root = tmp_path / "results"
    monkeypatch.setattr(outputs, "OUTPUT_ROOT", output_root)
    monkeypatch.setattr(outputs.new_output_dir, "__defaults__", (output_root, outputs.OUTPUT_MAX_AGE_S))
    fill_disk_for(monkeypatch, imaging)
    with pytest.raises(gr.Error, match=r"could not write or read a file \(No space left on device\); try again"):
        upscale_tab.upscale_upload(str(source), "bicubic")
    assert [path for path in output_root.rglob("*") if path.is_file()] == [], "no partial file is left"


# --- the server's own limits ---------------------------------------------------------------------


def test_the_upload_limit_and_queue_size_come_from_the_settings(monkeypatch, running_app, tmp_path):
    from gradio_client import Client, handle_file

    monkeypatch.setenv("SR_STUDIO_MAX_FILE_SIZE", "2kb")
    monkeypatch.setenv("SR_STUDIO_QUEUE_SIZE", "5")
    url = running_app()
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(big)
    client = Client(url, download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    with pytest.raises(ValueError, match="exceeds the maximum file size of 2048 bytes"):
        client.predict(handle_file(str(big)), "bicubic", False, api_name="/upscale")
    assert app.build_demo(tabs=(upscale_tab.build_upscale_tab,))._queue.max_size == 5


SERVED_REFUSALS = ("empty.png", "truncated.jpg", "page.png", "bomb.png")
"""One file of each class that Gradio's own image preprocessing used to fail on before the library saw it."""


def _served_calls(upload: Any) -> dict[str, tuple[Any, ...]]:
    """Each tab's endpoint of the served app (api name -> arguments) called with ``upload``."""
    return {
        "/upscale": (upload, "bicubic", False),
        "/compare": (upload, uploads.GROUND_TRUTH, ["bicubic", "srcnn"]),
        "/interpolate": (upload, uploads.GROUND_TRUTH, GAN_PAIR, 0.5),
        "/curve": (upload, uploads.GROUND_TRUTH, GAN_PAIR),
    }


def test_bad_uploads_to_every_served_endpoint_get_the_librarys_one_line_message(
    odd_images_folder, app_models, running_app, tmp_path
):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    for name in SERVED_REFUSALS:
        upload = odd_images_folder / name
        with pytest.raises(SRStudioError) as refused_by_library:
            imaging.open_image(upload)
        for api_name, arguments in _served_calls(handle_file(str(upload))).items():
            with pytest.raises(AppError) as refused:
                client.predict(*arguments, api_name=api_name)
            assert str(refused_by_library.value) in str(refused.value), (name, api_name, str(refused.value))
    under_protocol = tmp_path / "under_protocol.png"
    Image.new("RGB", (MIN_HR_SIDE - 1, 40)).save(under_protocol)
    with pytest.raises(SRStudioError) as refused_as_ground_truth:
        uploads.prepare_input(under_protocol, uploads.GROUND_TRUTH)
    for api_name, arguments in _served_calls(handle_file(str(under_protocol))).items():
        if api_name == "/upscale":
            continue  # any size upscales; only ground truth needs the protocol's minimum
        with pytest.raises(AppError) as refused:
            client.predict(*arguments, api_name=api_name)
        assert str(refused_as_ground_truth.value) in str(refused.value), (api_name, str(refused.value))
    good = tmp_path / "good.png"
    Image.fromarray((np.random.default_rng(1).random((24, 24, 3)) * 255).astype(np.uint8)).save(good)
    image_path, _, summary = client.predict(handle_file(str(good)), "bicubic", False, api_name="/upscale")
    assert Image.open(image_path).size == (96, 96) and "24x24 -> 96x96" in summary
