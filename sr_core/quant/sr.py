"""Data-free int8 SR generators: calibrate PTQ with LR images a generator learned from BN statistics.

SRResNet/SRGAN and Swift-SRGAN keep batch norm in every residual block, and its running
statistics describe the LR training crops. An unconditional generator (ZS-CGAN's BNS-only
variant: an SR network has no classes to condition on) learns LR images whose statistics
match them; its samples replace real crops as the calibration set of int8 PTQ. Compared here:
FP32, int8 calibrated on real LR crops, int8 calibrated data-free; quality with the papers'
protocol and CPU latency at 270p -> 1080p.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sr_core.errors import CalibrationDataError, InvalidImageError
from sr_core.evaluation import score_network
from sr_core.imaging import make_lr, open_image, to_float, to_uint8
from sr_core.inference import load_model
from sr_core.int8 import MAX_PSNR_LOSS_DB
from sr_core.protocol import SCALE, image_files
from sr_core.quant.generator import Generator
from sr_core.quant.zscgan import GeneratorConfig, ZeroShotTrainer
from sr_core.registry import get_spec
from sr_core.weights import infer_model_kwargs, load_into

# Bar for shipping an int8 model in the app: at most this PSNR loss on every data set, and faster on CPU.
# The BNS-only generator of LR crops: the paper's Adam lr (1e-2 matched no better here, measured on Swift-SRGAN).
LR_GENERATOR = GeneratorConfig(losses="bns", steps=150, batch_size=8, lr=1e-3)
LR_CROP = 24  # LR crop side: the SR models train on 16-24 px LR crops


def float_sr_network(name: str, weights_file: str | Path | None = None) -> nn.Module:
    """The float32 SR network ``name`` with its trained weights and its BN layers (not folded), frozen.

    :func:`sr_core.inference.load_model` gives the app's folded network; data-free calibration
    needs the BN statistics, which its ``state_dict`` keeps.
    """
    loaded = load_model(name, weights_file, device="cpu", dtype=torch.float32)
    network = get_spec(name).build(**infer_model_kwargs(loaded.state_dict, get_spec(name).architecture))
    load_into(network, loaded.state_dict)
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def train_lr_generator(
    sr_network: nn.Module,
    config: GeneratorConfig = LR_GENERATOR,
    size: int = LR_CROP,
    progress: Callable[[str], None] | None = None,
) -> Generator:
    """An unconditional generator of RGB ``size`` px LR crops in [0, 1] matching ``sr_network``'s BN statistics.

    ZS-CGAN's BNS-only variant (whatever ``config.losses`` says: an SR network has no class to
    condition on): one class, L_BNS as KL, each forward pass ending at the network's last BN
    layer, since the upsampling stages behind it hold no statistics and most of the cost.
    """
    trainer = ZeroShotTrainer(
        sr_network,
        dataclasses.replace(config, losses="bns"),
        image_shape=(3, size, size),
        num_classes=1,
        output_range=(0.0, 1.0),
    )
    trainer.train(progress)
    return trainer.generator.eval()


@torch.no_grad()
def synthetic_calibration(generator: Generator, batches: int, batch_size: int, seed: int = 0) -> list[torch.Tensor]:
    """``batches`` batches of generated LR crops (float NCHW in [0, 1])."""
    random = torch.Generator().manual_seed(seed)
    return [generator.sample(batch_size, torch.zeros(batch_size, dtype=torch.long), random)[0] for _ in range(batches)]


def protocol_lr(path: Path) -> torch.Tensor:
    """The evaluation protocol's LR version of the HR image at ``path``: float (1, 3, H/4, W/4) in [0, 1]."""
    try:
        lr_uint8 = make_lr(to_uint8(open_image(path).rgb), SCALE)[1]
    except InvalidImageError as error:
        raise CalibrationDataError(f"cannot use {path.name}: {error}") from None
    return torch.from_numpy(to_float(lr_uint8).transpose(2, 0, 1).copy())[None]


def real_calibration(
    folder: str | Path, batches: int, batch_size: int, size: int = 32, seed: int = 0
) -> list[torch.Tensor]:
    """Random ``size`` px LR crops of the HR images in ``folder``, downscaled x4 as the protocol does.

    The crops a data-dependent PTQ would use: LR versions of training images, as the network
    saw them in training. Images are visited in turn, one random crop each.
    """
    files = image_files(folder) if Path(folder).is_dir() else []
    if not files:
        raise CalibrationDataError(
            f"--calib {folder}: not a folder of images; give a folder of HR training images (e.g. T91) or 'data-free'"
        )
    usable = [image for image in map(protocol_lr, files) if min(image.shape[-2:]) >= size]
    if not usable:
        raise CalibrationDataError(f"no image in {folder} gives a {size} px LR crop (HR side >= {size * SCALE} px)")
    random = np.random.default_rng(seed)
    crops = []
    for index in range(batches * batch_size):
        image = usable[index % len(usable)]
        top = int(random.integers(0, image.shape[-2] - size + 1))
        left = int(random.integers(0, image.shape[-1] - size + 1))
        crops.append(image[0, :, top : top + size, left : left + size])
    return list(torch.stack(crops).split(batch_size))


@dataclass(frozen=True)
class QualityRow:
    """One variant on one data set: mean PSNR/SSIM (Y, border 4) over its images."""

    variant: str
    data: str
    psnr: float
    ssim: float


def score_variants(variants: Mapping[str, nn.Module], data_folders: list[Path]) -> list[QualityRow]:
    """Every variant on every data folder with the papers' protocol (:func:`sr_core.evaluation.score_network`)."""
    rows = []
    for folder in data_folders:
        files = image_files(folder)
        for variant, network in variants.items():
            scores = score_network(network, files)
            rows.append(
                QualityRow(
                    variant,
                    folder.name,
                    float(np.mean([s.psnr for s in scores])),
                    float(np.mean([s.ssim for s in scores])),
                )
            )
    return rows


@torch.inference_mode()
def interleaved_median_ms(runs: dict[str, Callable[[], torch.Tensor]], repeats: int = 5) -> dict[str, float]:
    """Median wall time of each run in ms, the runs taking turns (after one warm-up call each).

    Taking turns spreads the load of a shared machine evenly over the variants, so their
    ratio stays meaningful even when the absolute times drift.
    """
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def meets_bar(fp32: list[QualityRow], int8: list[QualityRow], fp32_ms: float, int8_ms: float) -> bool:
    """True when int8 loses at most :data:`MAX_PSNR_LOSS_DB` on every data set and runs faster than FP32."""
    by_data = {row.data: row.psnr for row in fp32}
    quality_ok = bool(int8) and all(by_data[row.data] - row.psnr <= MAX_PSNR_LOSS_DB for row in int8)
    return quality_ok and int8_ms < fp32_ms


@dataclass(frozen=True)
class LatencyReport:
    """Median ms per frame of each variant at one LR size, and how far compiled int8 strays on that frame.

    ``int8_vs_fp32`` checks what would ship (Inductor's int8 kernels) against FP32;
    ``int8_vs_graph`` checks it against the q/dq graph whose PSNR the quality table reports.
    """

    size: tuple[int, int]
    milliseconds: dict[str, float]
    int8_vs_fp32: float
    int8_vs_graph: float


FP32_APP = "fp32 (app: BN folded, eager)"
FP32_COMPILED = "fp32 (Inductor)"
INT8_COMPILED = "int8 (Inductor)"


def latency_frame(lr_image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``lr_image`` (1, 3, h, w) in [0, 1] resized to ``size``: a frame of natural content, so int8 sees the
    value ranges it was calibrated for (speed does not depend on content, the int8 error does)."""
    return F.interpolate(lr_image, size=size, mode="bicubic", align_corners=False).clamp(0.0, 1.0)


def measure_latency(
    fp32_network: nn.Module,
    quantized: nn.Module,
    frame: torch.Tensor,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> LatencyReport:
    """CPU latency on ``frame`` of the app's FP32 path, FP32 compiled and int8 compiled.

    Compiled FP32 is there because Inductor alone speeds FP32 up: int8 must beat the app's
    path to ship, and is only worth it if it also beats compiled FP32.
    """
    from sr_core.optimize import fold_batch_norms
    from sr_core.ptq import compile_frozen

    app_network = fold_batch_norms(fp32_network).to(memory_format=torch.channels_last)
    app_frame = frame.contiguous(memory_format=torch.channels_last)
    compiled_fp32 = compile_frozen(fold_batch_norms(fp32_network))
    compiled_int8 = compile_frozen(quantized)
    with torch.inference_mode():
        if progress:
            progress(f"compiling for {frame.shape[-2]}x{frame.shape[-1]} (Inductor; minutes on a busy CPU)")
        compiled_fp32(frame)
        int8_output = compiled_int8(frame)
        int8_vs_fp32 = float((int8_output - app_network(app_frame)).abs().max())
        int8_vs_graph = float((int8_output - quantized(frame)).abs().max())
    milliseconds = interleaved_median_ms(
        {
            FP32_APP: lambda: app_network(app_frame),
            FP32_COMPILED: lambda: compiled_fp32(frame),
            INT8_COMPILED: lambda: compiled_int8(frame),
        },
        repeats,
    )
    return LatencyReport((frame.shape[-2], frame.shape[-1]), milliseconds, int8_vs_fp32, int8_vs_graph)


def format_quality_table(rows: list[QualityRow], max_abs_diff: dict[str, float]) -> str:
    """One line per variant: PSNR/SSIM per data set, the PSNR change against FP32, max |output - FP32|."""
    variants = list(max_abs_diff)
    folders = list(dict.fromkeys(row.data for row in rows))
    cells = {(row.variant, row.data): row for row in rows}
    header = f"{'variant':<28}" + "".join(f"{name + ' PSNR':>14}{'SSIM':>8}{'dPSNR':>8}" for name in folders)
    lines = [header + f"{'max|d| vs fp32':>16}"]
    for variant in variants:
        line = f"{variant:<28}"
        for folder in folders:
            row, base = cells[(variant, folder)], cells[(variants[0], folder)]
            line += f"{row.psnr:>14.2f}{row.ssim:>8.4f}{row.psnr - base.psnr:>+8.2f}"
        lines.append(line + f"{max_abs_diff[variant]:>16.4f}")
    return "\n".join(lines)


def format_latency(report: LatencyReport) -> str:
    height, width = report.size
    base = report.milliseconds[FP32_APP]
    threads = torch.get_num_threads()
    lines = [
        f"CPU latency {height}x{width} -> {height * SCALE}x{width * SCALE} ({threads} threads), "
        + "median ms per frame, variants taking turns"
    ]
    for name, milliseconds in report.milliseconds.items():
        lines.append(f"  {name:<30}{milliseconds:>10.0f} ms   x{base / milliseconds:.2f} vs app fp32")
    lines.append(
        f"  int8 compiled: max|d| {report.int8_vs_fp32:.4f} vs fp32, {report.int8_vs_graph:.4f} vs the q/dq "
        "graph scored above"
    )
    return "\n".join(lines)
