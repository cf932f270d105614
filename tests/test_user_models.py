"""Users' own model files: identified by spandrel, read safely, run with what spandrel says of them, bad files refused."""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from spandrel_models import TINY_SPANDREL_MODELS, save_tiny_model

from sr_core import user_models
from sr_core.errors import (
    CorruptWeightsError,
    UnknownArchitectureError,
    UnsupportedScaleError,
    WeightsMismatchError,
    WeightsTooLargeError,
)
from sr_core.imaging import LoadedImage
from sr_core.inference import MAX_TILE, LoadedModel, tile_for, upscale_tensor, upscale_with
from sr_core.models.esrgan import RRDBNet
from sr_core.weights import save_weights
from studio.cli import main
from studio.services import compare, interpolate, model_choices, uploads, upscale

# The architectures the issue names, each once as safetensors and once as a pickle where it costs nothing more.
SUFFIXES = {"esrgan": ".pth", "compact": ".safetensors", "swinir": ".safetensors", "hat": ".pth", "dat": ".safetensors"}


@pytest.fixture(autouse=True)
def fresh_cache(one_cpu_thread):
    user_models._cached_user_model.cache_clear()
    yield
    user_models._cached_user_model.cache_clear()


def _image(height: int = 11, width: int = 13) -> LoadedImage:
    rgb = np.random.default_rng(0).random((height, width, 3)).astype(np.float32)
    return LoadedImage(rgb=rgb, alpha=None, grayscale=False, bit_depth=8, notices=(), source_mode="RGB")


@pytest.mark.parametrize("name", list(TINY_SPANDREL_MODELS))
def test_a_community_model_file_is_identified_and_upscales_an_image_of_any_size(name, tmp_path):
    path = save_tiny_model(name, tmp_path, suffix=SUFFIXES[name])
    info = user_models.identify(path)
    assert info.architecture == TINY_SPANDREL_MODELS[name][1] and info.scale == 4
    assert info.label == f"{path.name} ({info.architecture})"
    assert info.parameters == sum(tensor.numel() for tensor in TINY_SPANDREL_MODELS[name][0](4).parameters())
    assert len(info.sha256) == 64 and "scale: x4" in info.describe()
    # 11x13 is below the transformers' 16 px minimum and no multiple of their window: padded, then cropped back.
    result = upscale_with(_image(), user_models.load_user_model(path))
    assert result.size == (52, 44) and result.model == info.label
    assert result.rgb.min() >= 0 and result.rgb.max() <= 1 and result.rgb.std() > 0


def test_spandrels_esrgan_and_sr_studios_rrdbnet_give_the_same_output_on_one_official_state_dict(tmp_path):
    torch.manual_seed(0)
    ours = RRDBNet(num_block=2, num_feat=8, num_grow_ch=32).eval()
    for parameter in ours.parameters():  # random weights at a scale where differences would show
        parameter.data.normal_(0, 0.1)
    path = tmp_path / "RealESRGAN_layout.pth"
    torch.save({"params_ema": ours.state_dict()}, path)  # BasicSR / Real-ESRGAN's release layout
    theirs = user_models.load_user_model(path, dtype=torch.float32)
    assert theirs.name.endswith("(ESRGAN)")
    lr = torch.rand(1, 3, 12, 10)
    with torch.inference_mode():
        expected = ours(lr).clamp(0, 1)
    assert torch.allclose(upscale_tensor(theirs.network, lr), expected, atol=1e-5)


def test_a_x2_model_upscales_x2_but_is_refused_where_the_protocol_needs_x4(tmp_path):
    model = user_models.load_user_model(save_tiny_model("compact", tmp_path, scale=2))
    assert model.scale == 2 and upscale_with(_image(), model).size == (26, 22)
    with pytest.raises(UnsupportedScaleError, match=r"upscales x2; Compare scores x4"):
        user_models.require_scale(model, "Compare")


def test_a_grey_model_sees_the_luma_and_gives_rgb(tmp_path):
    from spandrel.architectures.Compact import Compact

    path = tmp_path / "grey.safetensors"
    save_weights(Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=1, upscale=4), path, half=False)
    model = user_models.load_user_model(path)
    sr = upscale_with(_image(), model).rgb
    assert sr.shape == (44, 52, 3) and np.array_equal(sr[..., 0], sr[..., 2])


def test_a_model_that_tiles_badly_gets_the_largest_tile_and_one_that_tiles_internally_none():
    network = torch.nn.Identity()
    model = LoadedModel("m", network, {}, torch.device("cpu"), torch.float32, None, None, 0)
    assert tile_for(model, 0) <= MAX_TILE and tile_for(model, 40) == 40 and tile_for(model, None) is None
    assert tile_for(LoadedModel(**{**model.__dict__, "tiling": "discouraged"}), 0) == MAX_TILE
    assert tile_for(LoadedModel(**{**model.__dict__, "tiling": "internal"}), 40) is None


def test_a_file_sr_studio_knows_runs_as_its_own_model_and_any_other_through_spandrel(tmp_path):
    ours = tmp_path / "ours.safetensors"
    save_weights(RRDBNet(num_block=1, num_feat=8, num_grow_ch=4), ours, {"model": "esrgan"})
    assert user_models.load_weights_file(ours).name == "esrgan"
    assert user_models.load_weights_file(save_tiny_model("swinir", tmp_path)).name == "swinir_x4.safetensors (SwinIR)"


def test_the_user_models_folder_lists_model_files_only(tmp_path, monkeypatch):
    assert user_models.user_model_files() == []
    save_tiny_model("compact", tmp_path, suffix=".pth")
    save_tiny_model("dat", tmp_path)
    (tmp_path / "notes.txt").write_text("not a model")
    monkeypatch.setenv("SR_STUDIO_USER_MODELS_DIR", str(tmp_path))
    assert [path.name for path in user_models.user_model_files()] == ["compact_x4.pth", "dat_x4.safetensors"]


# --- bad files: one clear error, nothing run ------------------------------------------------------------------


class _MakesFolder:
    """Unpickling this runs ``os.mkdir(marker)``: code execution, which loading must never allow."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    path.write_text("<html>404 not found</html>")
    with pytest.raises(CorruptWeightsError, match="not a readable PyTorch checkpoint"):
        user_models.identify(path)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_a_truncated_model_file_is_refused(suffix, tmp_path):
    path = save_tiny_model("compact", tmp_path, suffix=suffix)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CorruptWeightsError, match="truncated"):
        user_models.identify(path)


def test_an_unknown_architecture_is_refused_naming_what_spandrel_says(tmp_path):
    path = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(3, 3).state_dict(), path)
    with pytest.raises(
        UnknownArchitectureError, match=r"spandrel says UnsupportedModelError; first keys: weight, bias"
    ):
        user_models.identify(path)


def test_a_file_spandrel_recognises_but_cannot_build_is_refused_naming_the_architecture(tmp_path):
    path = tmp_path / "esrgan_grow4.pth"
    torch.save(
        RRDBNet(num_block=1, num_feat=8, num_grow_ch=4).state_dict(), path
    )  # spandrel assumes 32 growth channels
    with pytest.raises(WeightsMismatchError, match=r"spandrel takes it for ESRGAN but cannot build it \(RuntimeError"):
        user_models.identify(path)


def test_a_pickle_with_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "created_by_pickle"
    path = tmp_path / "model.pth"
    torch.save({"params": TINY_SPANDREL_MODELS["compact"][0](4).state_dict(), "hook": _MakesFolder(marker)}, path)
    with pytest.raises(CorruptWeightsError, match="pickled code"):
        user_models.identify(path)
    assert not marker.exists()


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path, monkeypatch):
    path = save_tiny_model("compact", tmp_path)
    monkeypatch.setenv("SR_STUDIO_USER_MODEL_MAX_SIZE", "1kb")
    with pytest.raises(WeightsTooLargeError, match=r"over the cap of 1,024 bytes.*SR_STUDIO_USER_MODEL_MAX_SIZE"):
        user_models.identify(path)


# --- the command line ---------------------------------------------------------------------------------------


def _hr_folder(folder: Path) -> Path:
    folder.mkdir()
    for index in range(2):
        Image.fromarray((np.random.default_rng(index).random((32, 28, 3)) * 255).astype(np.uint8)).save(
            folder / f"{index}.png"
        )
    return folder


@pytest.mark.parametrize("model", [[], ["--model", "auto"]])
def test_upscale_runs_a_file_no_key_table_knows_through_spandrel_at_its_own_scale(model, tmp_path, capsys):
    image = tmp_path / "in.png"
    Image.fromarray(np.full((12, 10, 3), 90, np.uint8)).save(image)
    for name, scale in (("swinir", 4), ("compact", 2)):
        weights = save_tiny_model(name, tmp_path, scale=scale)
        assert main(["upscale", str(image), str(tmp_path / f"{name}.png"), *model, "--weights", str(weights)]) == 0
        assert capsys.readouterr().out.startswith(
            f"{weights.name} ({TINY_SPANDREL_MODELS[name][1]}): 10x12 -> {10 * scale}x{12 * scale}"
        )
        assert Image.open(tmp_path / f"{name}.png").size == (10 * scale, 12 * scale)


def test_evaluate_scores_several_own_models_beside_bundled_ones_on_the_same_protocol(tmp_path, capsys):
    data = _hr_folder(tmp_path / "hr")
    weights = [
        f"--weights=mine={save_tiny_model('compact', tmp_path, suffix='.pth')}",
        f"--weights=swin={save_tiny_model('swinir', tmp_path)}",
    ]
    csv_path = tmp_path / "scores.csv"
    assert main(["evaluate", "--models", "bicubic", "--data", str(data), "--csv", str(csv_path), *weights]) == 0
    table = capsys.readouterr().out
    assert all(line.split()[0] in ("model", "bicubic", "mine", "swin") for line in table.splitlines()[1:])
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["model"] for row in rows if row["image"] == "mean"] == ["bicubic", "mine", "swin"]
    assert all(float(row["psnr_y"]) > 0 for row in rows)


def test_evaluate_refuses_an_own_model_of_another_scale_before_scoring_anything(tmp_path, capsys):
    data = _hr_folder(tmp_path / "hr")
    weights = save_tiny_model("compact", tmp_path, scale=2)
    assert main(["evaluate", "--data", str(data), "--csv", str(tmp_path / "s.csv"), "--weights", f"x2={weights}"]) == 2
    error = capsys.readouterr().err
    assert "upscales x2; evaluate scores x4 models only" in error and error.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


def test_models_weights_prints_what_a_file_holds(tmp_path, capsys):
    assert main(["models", "--weights", str(save_tiny_model("dat", tmp_path))]) == 0
    printed = capsys.readouterr().out
    assert "architecture: DAT (SR, spandrel)" in printed and "scale: x4" in printed and "parameters: " in printed
    ours = tmp_path / "ours.safetensors"
    save_weights(RRDBNet(num_block=1, num_feat=8, num_grow_ch=4), ours, {"model": "esrgan"})
    assert main(["models", "--weights", str(ours)]) == 0
    assert "architecture: rrdbnet (SR Studio's esrgan)" in capsys.readouterr().out


# --- the Compare and Upscale tabs, through the library and the served app ----------------------------------

COMPARED = ("esrgan", "compact", "swinir", "dat")


def _hr_image(folder: Path) -> Path:
    path = folder / "hr.png"
    Image.fromarray((np.random.default_rng(0).random((48, 40, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_own_model_files_are_columns_of_a_comparison_with_metrics_zoom_slider_and_zip(tmp_path):
    files = [save_tiny_model(name, tmp_path / "models", suffix=SUFFIXES[name]) for name in COMPARED]
    labels = [user_models.identify(path).label for path in files]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    view = list(
        compare.compare_stream(_hr_image(tmp_path), uploads.GROUND_TRUTH, ["bicubic"], out_dir, model_files=files)
    )[-1]
    rows = view.table.set_index("model")
    assert list(rows.index) == ["bicubic", *labels] and set(rows["status"]) == {compare.DONE}
    assert rows.loc[labels, "PSNR (dB)"].notna().all() and rows.loc[labels, "SSIM"].notna().all()
    assert list(rows.loc[labels, "parameters"]) == [user_models.identify(path).parameters for path in files]
    assert view.viewable == [compare.REFERENCE, "bicubic", *labels]
    zoomed = compare.zoom_outputs(view.outputs, 0.5, 0.5, 16, 2, out_dir)
    assert [caption.split(" [")[0] for _, caption in zoomed] == view.viewable
    assert compare.slider_pair(view.outputs, "bicubic", labels[-1])[1].endswith(".png")
    with zipfile.ZipFile(view.downloads[0]) as archive:
        assert len([name for name in archive.namelist() if name.endswith(".png")]) == 2 + len(files)


def test_two_uploads_with_one_file_name_are_two_columns_of_a_comparison(tmp_path):
    first = save_tiny_model("compact", tmp_path / "a")
    second = save_tiny_model("compact", tmp_path / "b")
    assert first.name == second.name
    label = user_models.identify(first).label
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    view = list(
        compare.compare_stream(_hr_image(tmp_path), uploads.GROUND_TRUTH, [], out_dir, model_files=[first, second])
    )[-1]
    assert list(view.table["model"]) == [label, f"{label} #2"]


def test_a_comparison_refuses_a_model_file_of_another_scale_before_running_anything(tmp_path):
    x2 = save_tiny_model("compact", tmp_path, scale=2)
    with pytest.raises(UnsupportedScaleError, match=r"compact_x2.safetensors \(RealESRGAN Compact\) upscales x2"):
        next(compare.compare_stream(_hr_image(tmp_path), uploads.GROUND_TRUTH, ["bicubic"], tmp_path, model_files=[x2]))


def test_the_upscale_tab_runs_an_own_model_at_its_scale_and_states_the_size(tmp_path):
    outcome = upscale.upscale_file(
        _hr_image(tmp_path), "bicubic", tmp_path, model_file=save_tiny_model("compact", tmp_path, scale=2)
    )
    assert "40x48 -> 80x96 px" in outcome.summary and Image.open(outcome.path).size == (80, 96)


def test_the_user_models_folder_is_offered_by_file_name_and_nothing_outside_it(tmp_path, monkeypatch):
    save_tiny_model("swinir", tmp_path)
    (tmp_path / "broken.pth").write_bytes(b"\x80not a pickle")
    monkeypatch.setenv("SR_STUDIO_USER_MODELS_DIR", str(tmp_path))
    choices = dict((value, label) for label, value in model_choices.folder_model_choices())
    assert choices["swinir_x4.safetensors"] == "swinir_x4.safetensors (SwinIR), x4"
    assert choices["broken.pth"].startswith("broken.pth (unreadable: ")
    assert model_choices.folder_model_path("swinir_x4.safetensors") == tmp_path / "swinir_x4.safetensors"
    with pytest.raises(uploads.ServiceSettingsError, match="no model file '../secret.pth'"):
        model_choices.folder_model_path("../secret.pth")


def test_own_model_files_through_the_served_app(tmp_path, running_app):
    from gradio_client import Client, handle_file

    files = [save_tiny_model(name, tmp_path / "models", suffix=SUFFIXES[name]) for name in COMPARED]
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    hr = _hr_image(tmp_path)
    gallery, table, *_ = client.predict(
        handle_file(str(hr)),
        uploads.GROUND_TRUTH,
        ["bicubic"],
        [handle_file(str(path)) for path in files],
        [],
        api_name="/compare",
    )
    labels = [user_models.identify(path).label for path in files]
    rows = {row[0]: row for row in table["data"]}
    assert set(labels) <= set(rows) and all(rows[label][-1] == compare.DONE and rows[label][1] for label in labels)
    assert len(gallery) == 2 + len(files)
    x2 = save_tiny_model("compact", tmp_path, scale=2)
    image_path, _, summary = client.predict(
        handle_file(str(hr)), "bicubic", False, handle_file(str(x2)), None, api_name="/upscale"
    )
    assert "40x48 -> 80x96 px" in summary and Image.open(image_path).size == (80, 96)


def test_every_bad_model_file_gets_the_librarys_message_through_the_served_app(tmp_path, running_app, monkeypatch):
    from gradio_client import Client, handle_file

    marker = tmp_path / "created_by_pickle"
    not_a_checkpoint = tmp_path / "page.pth"
    not_a_checkpoint.write_text("<html>404 not found</html>")
    truncated = save_tiny_model("compact", tmp_path / "truncated")
    truncated.write_bytes(truncated.read_bytes()[:-200])
    unknown = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(3, 3).state_dict(), unknown)
    with_code = tmp_path / "hook.pth"
    torch.save({"params": TINY_SPANDREL_MODELS["compact"][0](4).state_dict(), "hook": _MakesFolder(marker)}, with_code)
    other_scale = save_tiny_model("compact", tmp_path / "x2", scale=2)
    refusals = {
        not_a_checkpoint: "not a readable PyTorch checkpoint",
        truncated: "truncated",
        unknown: "spandrel says UnsupportedModelError",
        with_code: "pickled code",
        other_scale: r"upscales x2",
    }
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    hr = handle_file(str(_hr_image(tmp_path)))
    for path, message in refusals.items():
        with pytest.raises(Exception, match=message):
            client.predict(hr, uploads.GROUND_TRUTH, ["bicubic"], [handle_file(str(path))], [], api_name="/compare")
    assert not marker.exists(), "the pickle's code ran"
    monkeypatch.setenv("SR_STUDIO_USER_MODEL_MAX_SIZE", "1kb")  # read per call: the served app sees it
    with pytest.raises(Exception, match="over the cap of 1,024 bytes"):
        client.predict(hr, uploads.GROUND_TRUTH, ["bicubic"], [handle_file(str(truncated))], [], api_name="/compare")
    monkeypatch.delenv("SR_STUDIO_USER_MODEL_MAX_SIZE")
    _, table, *_ = client.predict(hr, uploads.GROUND_TRUTH, ["bicubic"], [], [], api_name="/compare")
    assert [row[0] for row in table["data"]][-1] == "bicubic", "the worker stays healthy after the refusals"


# --- Interpolate: two own files of one architecture and shape, blended parameter by parameter ------------------


def _pair(tmp_path: Path, name: str = "compact", **options) -> tuple[Path, Path]:
    """The same tiny architecture saved twice with different random weights (different folders, one file name)."""
    return (
        save_tiny_model(name, tmp_path / "first", seed=0, **options),
        save_tiny_model(name, tmp_path / "second", seed=1, **options),
    )


@pytest.mark.parametrize("name", ["compact", "swinir"])
def test_two_own_files_of_one_architecture_blend_every_parameter(name, tmp_path):
    from sr_core.interpolation import interpolated_file_model

    first, second = _pair(tmp_path, name)
    blended = interpolated_file_model(first, second, 0.3).model.state_dict()
    theirs = user_models.load_user_model(first).state_dict, user_models.load_user_model(second).state_dict
    floating = [key for key, tensor in theirs[0].items() if tensor.is_floating_point()]
    assert floating and all(
        torch.allclose(blended[key], 0.7 * theirs[0][key] + 0.3 * theirs[1][key], atol=1e-6) for key in floating
    )
    lr = torch.rand(1, 3, 12, 10)
    assert torch.equal(
        upscale_tensor(interpolated_file_model(first, second, 0.0), lr),
        upscale_tensor(user_models.load_user_model(first).network, lr),
    )


def test_own_files_of_different_architectures_are_refused_naming_both(tmp_path):
    from sr_core.interpolation import interpolated_file_model

    compact, swinir = save_tiny_model("compact", tmp_path), save_tiny_model("swinir", tmp_path)
    with pytest.raises(
        WeightsMismatchError,
        match=r"cannot interpolate compact_x4.safetensors \(RealESRGAN Compact\), "
        r"x4 with swinir_x4.safetensors \(SwinIR\), x4",
    ):
        interpolated_file_model(compact, swinir, 0.5)
    with pytest.raises(WeightsMismatchError, match=r"\(RealESRGAN Compact\), x2: .* one architecture and scale"):
        interpolated_file_model(compact, save_tiny_model("compact", tmp_path, scale=2), 0.5)


def test_own_files_of_one_architecture_and_different_shapes_are_refused_naming_the_keys(tmp_path):
    from spandrel.architectures.Compact import Compact

    from sr_core.interpolation import interpolated_file_model

    wider = tmp_path / "wider.safetensors"
    save_weights(Compact(num_feat=16, num_conv=2, upscale=4), wider, half=False)
    with pytest.raises(
        WeightsMismatchError,
        match=r"keys \d+ of different shapes \(body.0.weight \(8, 3, 3, 3\) vs "
        r"\(16, 3, 3, 3\)",
    ):
        interpolated_file_model(save_tiny_model("compact", tmp_path), wider, 0.5)


def test_the_perception_distortion_curve_of_two_own_files_has_both_methods_agreeing_at_the_ends(tmp_path):
    from sr_core.imaging import make_lr, to_float
    from sr_core.interpolation import IMAGE, NETWORK, perception_distortion_curve

    first, second = _pair(tmp_path)
    hr, lr = make_lr((np.random.default_rng(2).random((32, 36, 3)) * 255).astype(np.uint8), 4)
    curve = perception_distortion_curve(
        to_float(lr), hr, str(first), str(second), alphas=(0.0, 0.5, 1.0), user_files=True
    )
    assert len(curve) == 6 and set(curve["interpolation"]) == {NETWORK, IMAGE} and curve["lpips"].notna().all()
    ends = curve[curve["alpha"] != 0.5].pivot(index="alpha", columns="interpolation", values="psnr")
    assert np.allclose(ends[NETWORK], ends[IMAGE], atol=0.05)
    middle = curve[curve["alpha"] == 0.5].set_index("interpolation")["psnr"]
    assert middle[NETWORK] != pytest.approx(middle[IMAGE], abs=1e-3)


def test_the_interpolate_tab_blends_two_own_files_and_plots_their_curve(tmp_path):
    first, second = _pair(tmp_path)
    hr = _hr_image(tmp_path)
    shown = interpolate.interpolation_view(
        hr, uploads.GROUND_TRUTH, "esrgan", 0.42, tmp_path, model_files=[first, second]
    )
    assert np.asarray(Image.open(shown.network_path)).shape == np.asarray(Image.open(shown.image_path)).shape
    assert shown.caption.startswith(
        "alpha = 0.40 (compact_x4.safetensors (RealESRGAN Compact) -> compact_x4.safetensors"
    )
    assert "PSNR network" in shown.caption
    curve = interpolate.curve_for_upload(hr, uploads.GROUND_TRUTH, "esrgan", model_files=[first, second])
    assert len(curve) == 12 and curve["lpips"].notna().all()
    assert [trace.name for trace in interpolate.curve_chart(curve).data] == [
        "network interpolation",
        "image interpolation",
    ]


def test_the_interpolate_tab_refuses_one_own_file_alone_and_one_of_another_scale(tmp_path):
    first, _ = _pair(tmp_path)
    hr = _hr_image(tmp_path)
    with pytest.raises(uploads.ServiceSettingsError, match="blends two model files, got 1"):
        interpolate.interpolation_view(hr, uploads.GROUND_TRUTH, "esrgan", 0.5, tmp_path, model_files=[first])
    x2 = _pair(tmp_path / "x2", scale=2)
    with pytest.raises(UnsupportedScaleError, match=r"upscales x2; Interpolate scores x4"):
        interpolate.curve_for_upload(hr, uploads.GROUND_TRUTH, "esrgan", model_files=list(x2))


def test_own_files_are_interpolated_through_the_served_app_and_the_bundled_pair_still_is(
    tmp_path, tiny_weights, running_app
):
    from gradio_client import Client, handle_file

    tiny_weights("esrgan_psnr", "esrgan")
    first, second = _pair(tmp_path)
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    hr = handle_file(str(_hr_image(tmp_path)))
    files = [handle_file(str(first)), handle_file(str(second)), None, None]
    network, blended, caption = client.predict(hr, uploads.GROUND_TRUTH, "esrgan", 0.6, *files, api_name="/interpolate")
    assert "(RealESRGAN Compact) -> compact_x4.safetensors" in caption
    assert Image.open(network).size == Image.open(blended).size == (40, 48)
    table, plot = client.predict(hr, uploads.GROUND_TRUTH, "esrgan", *files, api_name="/curve")
    assert len(table["data"]) == 12 and plot is not None
    *_, caption = client.predict(hr, uploads.GROUND_TRUTH, "esrgan", 0.6, api_name="/interpolate")
    assert caption.startswith("alpha = 0.60 (esrgan_psnr -> esrgan)")
    with pytest.raises(Exception, match="blends two model files, got 1"):
        client.predict(hr, uploads.GROUND_TRUTH, "esrgan", 0.6, files[0], api_name="/interpolate")


# --- the Upscale button states the chosen model's scale -----------------------------------------------------


def test_the_upscale_button_states_the_scale_of_the_chosen_model_file(tmp_path):
    assert upscale.upscale_label() == "Upscale x4"
    assert upscale.upscale_label(save_tiny_model("compact", tmp_path, scale=2)) == "Upscale x2"
    broken = tmp_path / "broken.pth"
    broken.write_text("<html>404 not found</html>")
    with pytest.raises(CorruptWeightsError):
        upscale.upscale_label(broken)


def test_the_served_upscale_button_follows_the_uploaded_model_file(tmp_path, running_app):
    from gradio_client import Client, handle_file

    from studio.ui import upscale_tab

    x2 = save_tiny_model("compact", tmp_path, scale=2)
    assert (
        upscale_tab.upscale_button(str(x2), None).value == "Upscale x2"
        and upscale_tab.upscale_button().value == "Upscale x4"
    )
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    client.predict(handle_file(str(x2)), None, api_name="/upscale_label")  # a button's text is not sent to clients
    broken = tmp_path / "broken.pth"
    broken.write_text("<html>404 not found</html>")
    with pytest.raises(Exception, match="not a readable PyTorch checkpoint"):
        client.predict(handle_file(str(broken)), None, api_name="/upscale_label")
