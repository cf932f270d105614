"""Data-free int8 SR generators: the BNS-only LR generator, calibration crops, scoring and the shipping bar."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_ARCH_KWARGS
from PIL import Image
from quant_helpers import give_batch_norm_statistics

from sr_core.errors import CalibrationDataError
from sr_core.inference import load_model
from sr_core.quant.bns import bns_loss, forward_with_moments
from sr_core.quant.generator import Generator
from sr_core.quant.sr import (
    QualityRow,
    float_sr_network,
    interleaved_median_ms,
    meets_bar,
    real_calibration,
    score_variants,
    synthetic_calibration,
    train_lr_generator,
)
from sr_core.quant.zscgan import GeneratorConfig
from sr_core.registry import build_model

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _write_images(folder: Path, count: int = 2, size: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    random = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(random.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def _tiny_sr_network() -> torch.nn.Module:
    torch.manual_seed(0)
    network = give_batch_norm_statistics(build_model("srresnet", **TINY_ARCH_KWARGS["srresnet"]))
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def _kl_of(generator: Generator, network: torch.nn.Module) -> float:
    torch.manual_seed(1)
    images = generator.sample(16)[0]
    with torch.no_grad():
        return bns_loss(forward_with_moments(network, images, stop_after_last=True)[1]).item()


def test_the_lr_generator_learns_images_closer_to_the_sr_networks_batch_norm_statistics():
    network = _tiny_sr_network()
    # "ce" is overridden to BNS only: an SR network has no classes to be cross-entropic about.
    config = GeneratorConfig(losses="ce", steps=30, batch_size=8, lr=1e-2, latent_dim=8, width=8)
    untrained = Generator(num_classes=1, latent_dim=8, out_channels=3, size=12, width=8, output_range=(0.0, 1.0)).eval()
    trained = train_lr_generator(network, config, size=12)
    assert _kl_of(trained, network) < 0.75 * _kl_of(untrained, network)
    batches = synthetic_calibration(trained, batches=2, batch_size=3)
    assert [batch.shape for batch in batches] == [(3, 3, 12, 12)] * 2
    assert all(0.0 <= batch.min() and batch.max() <= 1.0 for batch in batches)


def test_real_calibration_takes_lr_crops_of_x4_downscaled_images(tmp_path):
    batches = real_calibration(_write_images(tmp_path / "hr"), batches=3, batch_size=2, size=8)
    assert [batch.shape for batch in batches] == [(2, 3, 8, 8)] * 3
    assert all(0.0 <= batch.min() and batch.max() <= 1.0 for batch in batches)


def test_real_calibration_refuses_an_empty_folder_and_images_too_small_for_a_crop(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationDataError, match="data-free"):
        real_calibration(tmp_path / "empty", 1, 1)
    with pytest.raises(CalibrationDataError, match="crop"):
        real_calibration(_write_images(tmp_path / "small", size=40), 1, 1, size=32)


def test_float_sr_network_keeps_batch_norm_and_computes_what_the_app_computes(tiny_weights):
    tiny_weights("swiftsrgan")
    network = float_sr_network("swiftsrgan")
    lr = torch.rand(1, 3, 8, 8)
    assert any(isinstance(layer, torch.nn.BatchNorm2d) for layer in network.modules())
    with torch.no_grad():
        assert torch.allclose(network(lr), load_model("swiftsrgan", dtype=torch.float32).network(lr), atol=1e-5)


def test_score_variants_gives_one_row_per_variant_and_data_set(tmp_path):
    folder = _write_images(tmp_path / "set", size=48)
    network = _tiny_sr_network()
    rows = score_variants({"a": network, "b": network}, [folder])
    assert [(row.variant, row.data) for row in rows] == [("a", "set"), ("b", "set")]
    assert rows[0].psnr == rows[1].psnr


def test_int8_ships_only_when_it_loses_at_most_0_3_db_everywhere_and_is_faster():
    fp32 = [QualityRow("fp32", "set5", 30.0, 0.9), QualityRow("fp32", "set14", 27.0, 0.8)]
    close = [QualityRow("int8", "set5", 29.8, 0.9), QualityRow("int8", "set14", 26.75, 0.8)]
    far = [QualityRow("int8", "set5", 29.8, 0.9), QualityRow("int8", "set14", 26.6, 0.8)]
    assert meets_bar(fp32, close, fp32_ms=100, int8_ms=90)
    assert not meets_bar(fp32, close, fp32_ms=100, int8_ms=110)
    assert not meets_bar(fp32, far, fp32_ms=100, int8_ms=90)
    assert not meets_bar(fp32, [], fp32_ms=100, int8_ms=90)


def test_interleaved_timing_reports_a_median_for_each_run():
    calls = []
    timings = interleaved_median_ms({"x": lambda: calls.append("x"), "y": lambda: calls.append("y")}, repeats=3)
    assert set(timings) == {"x", "y"} and all(value >= 0 for value in timings.values())
    assert calls == ["x", "y"] * 4


@pytest.mark.slow
def test_compiled_int8_agrees_with_its_graph_and_with_fp32(tmp_path):
    from sr_core.ptq import quantize_static
    from sr_core.quant.sr import latency_frame, measure_latency, protocol_lr

    network = _tiny_sr_network()
    lr_image = protocol_lr(next(_write_images(tmp_path / "hr", count=1).iterdir()))
    quantized = quantize_static(network, [latency_frame(lr_image, (12, 12))], 8)
    report = measure_latency(network, quantized, latency_frame(lr_image, (16, 16)), repeats=1)
    assert set(report.milliseconds) == {"fp32 (app: BN folded, eager)", "fp32 (Inductor)", "int8 (Inductor)"}
    assert report.int8_vs_graph < 0.05 and report.int8_vs_fp32 < 0.2
