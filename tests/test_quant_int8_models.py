"""Shipped int8 SR models: calibrated ranges in safetensors rebuild the scored graph, and load by name."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_ARCH_KWARGS, clear_model_caches
from PIL import Image
from quant_helpers import give_batch_norm_statistics

from sr_core.errors import CompilerMissingError, WeightsMismatchError, WeightsNotFoundError
from sr_core.inference import load_model, model_has_weights
from sr_core.int8 import int8_graph, observer_state, save_ranges, scores_for_this_cpu
from sr_core.interpolation import check_interpolable, interpolation_pairs
from sr_core.ptq import calibrate, convert
from sr_core.quant.publish import publish_int8
from sr_core.quant.sr import float_sr_network
from sr_core.registry import build_model, get_spec, sr_model_names
from sr_core.weights import read_manifest, read_state_dict, save_weights, sha256_file
from studio.cli import main

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _tiny_network(seed: int = 0, **overrides: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    kwargs = {**TINY_ARCH_KWARGS["swiftsrgan"], **overrides}
    return give_batch_norm_statistics(build_model("swiftsrgan", **kwargs), seed)


def _batches(count: int = 2) -> list[torch.Tensor]:
    random = torch.Generator().manual_seed(3)
    return [torch.rand(2, 3, 12, 12, generator=random) for _ in range(count)]


def _image_folder(folder: Path) -> Path:
    folder.mkdir()
    random = np.random.default_rng(0)
    for index in range(2):
        Image.fromarray(random.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


@pytest.fixture
def vnni_cpu(monkeypatch):
    """Run as on a CPU with VNNI, whose int8 products don't saturate: these tests are about ranges, loading
    and compiling, and on a CPU without VNNI the 7-bit rebuild and the refusal (tested in test_bundled_weights)
    would come first."""
    monkeypatch.setattr("sr_core.int8.cpu_int8_products_saturate", lambda: False)


def test_every_batch_norm_generator_has_an_int8_variant_that_is_neither_trained_nor_interpolated():
    names = sr_model_names()
    assert {"srresnet-int8", "srgan-int8", "swiftsrgan_psnr-int8", "swiftsrgan-int8"} <= set(names)
    assert "srcnn-int8" not in names and "esrgan-int8" not in names
    assert get_spec("swiftsrgan-int8").quantized_from == "swiftsrgan"
    assert get_spec("swiftsrgan-int8").discriminator is None
    assert all("int8" not in name for pair in interpolation_pairs() for name in pair)
    with pytest.raises(WeightsMismatchError, match="interpolate its float model 'srresnet'"):
        check_interpolable("srresnet-int8", "srgan")


@pytest.mark.usefixtures("vnni_cpu")
def test_saved_ranges_rebuild_exactly_the_calibrated_int8_graph(tmp_path):
    network = _tiny_network()
    prepared = calibrate(network, _batches())
    path = tmp_path / "ranges.safetensors"
    save_ranges(prepared, path, "swiftsrgan", "0" * 64, "test batches")
    expected = convert(prepared)
    rebuilt = int8_graph(network, read_state_dict(path))
    probe = torch.rand(1, 3, 10, 14)
    assert torch.equal(rebuilt(probe), expected(probe))
    assert not any("weight" in key and "post_process" not in key for key in read_state_dict(path))


def test_ranges_of_another_network_are_refused():
    ranges = observer_state(calibrate(_tiny_network(), _batches(1)))
    with pytest.raises(WeightsMismatchError, match="calibrated for another network"):
        int8_graph(_tiny_network(num_blocks=2), ranges)


@pytest.fixture
def published_int8(tiny_weights, tmp_path):
    """A tiny swiftsrgan bundled with calibrated int8 ranges, published as the CLI's --publish does."""
    folder = tiny_weights("swiftsrgan")
    network = float_sr_network("swiftsrgan")
    images = _image_folder(tmp_path / "hr")
    publish_int8("swiftsrgan", calibrate(network, _batches()), "test batches", [images], {"int8 (Inductor)": 1.0})
    return folder, images


def test_published_ranges_are_recorded_against_the_float_weights_they_were_calibrated_for(published_int8):
    folder, _ = published_int8
    entry = read_manifest(folder)["swiftsrgan-int8"]
    float_entry = read_manifest(folder)["swiftsrgan"]
    assert entry.sha256 == sha256_file(folder / entry.file)
    assert entry.training["float_sha256"] == float_entry.sha256
    assert entry.training["calibration"] == "test batches"
    assert {"no_vnni_hr_psnr_y", "no_vnni_hr_ssim_y", "no_vnni_hr_colour_shift_max"} <= set(entry.scores)
    assert {"hr_psnr_y", "hr_ssim_y", "hr_detail_ratio", "hr_colour_shift_max"} <= set(
        scores_for_this_cpu(entry.scores)
    )
    assert model_has_weights("swiftsrgan-int8")


@pytest.mark.slow
@pytest.mark.usefixtures("vnni_cpu")
def test_a_published_int8_model_loads_by_name_runs_compiled_and_stays_close_to_float(published_int8):
    loaded = load_model("swiftsrgan-int8")
    assert loaded.device.type == "cpu" and loaded.weights_file.endswith("swiftsrgan-int8.safetensors")
    lr = torch.rand(1, 3, 12, 16)
    with torch.inference_mode():
        int8_output = loaded.network(lr)
        float_output = load_model("swiftsrgan", dtype=torch.float32).network(lr)
    assert int8_output.shape == (1, 3, 48, 64)
    assert float((int8_output - float_output).abs().max()) < 0.2


@pytest.mark.usefixtures("vnni_cpu")
def test_int8_ranges_meet_no_other_float_weights(published_int8):
    folder, _ = published_int8
    entry = read_manifest(folder)["swiftsrgan"]
    save_weights(_tiny_network(seed=5), folder / entry.file)  # the float model retrained, ranges left behind
    entry_sha = sha256_file(folder / entry.file)
    manifest = (folder / "manifest.json").read_text().replace(entry.sha256, entry_sha)
    (folder / "manifest.json").write_text(manifest)
    clear_model_caches()
    with pytest.raises(WeightsMismatchError, match="quantize --publish"):
        load_model("swiftsrgan-int8")


@pytest.mark.usefixtures("vnni_cpu")
def test_a_host_without_a_cpp_compiler_is_told_to_install_one_before_any_compiling(published_int8, monkeypatch):
    from torch._inductor import config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", ("no-such-compiler++",))
    clear_model_caches()  # publishing scored (and so cached) the int8 model
    with pytest.raises(CompilerMissingError, match="install g\\+\\+"):
        load_model("swiftsrgan-int8")


def test_an_int8_variant_without_ranges_says_how_to_make_them(tiny_weights):
    tiny_weights("swiftsrgan")
    assert not model_has_weights("swiftsrgan-int8")
    with pytest.raises(WeightsNotFoundError, match="quantize --model swiftsrgan --publish"):
        load_model("swiftsrgan-int8")


def test_publish_needs_test_data_and_a_latency_measurement(tiny_weights, capsys):
    tiny_weights("swiftsrgan")
    assert main(["quantize", "--model", "swiftsrgan", "--publish", "--threads", "1"]) == 2
    assert "--publish" in capsys.readouterr().err
