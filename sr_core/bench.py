"""``python -m sr_core bench``: speed, cost and memory of every model on this device.

Each row runs the same network, with the same weights, two ways in one process: a plain
eager, contiguous, float32 reference, and the path the app uses: the network in
:func:`sr_core.optimize.inference_form` (batch norm folded, the sub-pixel tail run before the
last shuffle, channels_last, half precision on GPUs and on CPUs with native bf16) run by
:func:`sr_core.inference.upscale_tensor` with the app's automatic tile, in inference mode, with
freed CPU memory kept for reuse. The speed-up is the ratio of the two medians measured in the
same run, and the outputs are compared so an optimisation that changes the result shows up as
a large max-abs difference.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import functools
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from sr_core.device import glibc, keep_freed_cpu_memory, pick_device
from sr_core.inference import app_dtype, auto_tile_size, upscale_tensor
from sr_core.models.blocks import count_parameters
from sr_core.optimize import inference_form
from sr_core.protocol import SCALE
from sr_core.registry import build_model, get_spec, sr_model_names

# (height, width) of the LR input; "tiny" exists so CI can run the whole benchmark in seconds.
SIZES: dict[str, tuple[int, int]] = {"tiny": (16, 16), "128": (128, 128), "270p": (270, 480), "540p": (540, 960)}


@dataclass(frozen=True)
class BenchRow:
    """One model at one input size; times in milliseconds, memory in MiB."""

    model: str
    size: str
    device: str
    parameters: int
    gmacs_per_frame: float
    reference_ms: float
    optimised_ms: float
    speedup: float
    frames_per_second: float
    peak_mib: float
    max_abs_diff: float


def count_macs(model: nn.Module, lr: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass, counted from conv and linear output shapes."""
    total = 0

    def conv_hook(layer: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = layer.kernel_size[0] * layer.kernel_size[1] * layer.in_channels // layer.groups
        total += output.numel() * kernel

    def linear_hook(layer: nn.Linear, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * layer.in_features

    handles = [
        layer.register_forward_hook(conv_hook if isinstance(layer, nn.Conv2d) else linear_hook)
        for layer in model.modules()
        if isinstance(layer, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.inference_mode():
            model(lr)
    finally:
        for handle in handles:
            handle.remove()
    return total


def _median_ms(run: Callable[[], torch.Tensor], repeats: int, device: torch.device) -> tuple[float, torch.Tensor]:
    """Median wall time of ``run`` after one warm-up call, and its last output."""
    output = run()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        output = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), output


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33+): every field a size_t."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _glibc_mallinfo2() -> Callable[[], _MallInfo2] | None:
    libc = glibc()
    mallinfo2 = getattr(libc, "mallinfo2", None) if libc is not None else None
    if mallinfo2 is not None:
        mallinfo2.restype = _MallInfo2
    return mallinfo2


def _allocated_bytes() -> int | None:
    """Bytes the process holds in live allocations: glibc's count where it has one, else resident memory (/proc).

    Resident memory cannot see a peak once freed memory is kept for reuse
    (:func:`sr_core.device.keep_freed_cpu_memory`): the next image reuses pages already resident.
    glibc's in-use count (heap blocks in use plus mapped blocks) still can.
    """
    mallinfo2 = _glibc_mallinfo2()
    if mallinfo2 is not None:
        info = mallinfo2()
        return info.uordblks + info.hblkhd
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_memory_growth_mib(run: Callable[[], object], interval_s: float = 0.002) -> float:
    """How far allocated CPU memory rises above its level before ``run`` while it runs, in MiB.

    Sampled from a thread every ``interval_s``: a peak shorter than that can be missed, which
    convolution activations, alive for milliseconds at least, are not. NaN where neither glibc
    nor /proc can tell.
    """
    baseline = _allocated_bytes()
    if baseline is None:
        return float("nan")
    peak, done = baseline, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _allocated_bytes() or 0)
            done.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return max(peak - baseline, 0) / 2**20


@dataclass
class _Measured:
    """One model at one size after its eager reference ran: what the optimised run is compared with."""

    name: str
    size: str
    reference: nn.Module
    lr: torch.Tensor
    reference_ms: float
    reference_out: torch.Tensor


def _measure_reference(name: str, size: str, device: torch.device, repeats: int, model_kwargs: dict) -> _Measured:
    torch.manual_seed(0)
    reference = build_model(name, **model_kwargs).to(device).eval()
    height, width = SIZES[size]
    lr = torch.rand(1, 3, height, width, device=device)
    with torch.inference_mode():
        reference_ms, reference_out = _median_ms(lambda: reference(lr), repeats, device)
    return _Measured(name, size, reference, lr, reference_ms, reference_out.clamp(0, 1))


def _measure_optimised(measured: _Measured, device: torch.device, repeats: int) -> BenchRow:
    optimised = inference_form(measured.reference, device, app_dtype(get_spec(measured.name), device))
    tile = auto_tile_size(device)

    def app_path() -> torch.Tensor:
        return upscale_tensor(optimised, measured.lr, tile)

    on_cuda = device.type == "cuda"
    with torch.inference_mode():
        if on_cuda:
            torch.cuda.reset_peak_memory_stats(device)
        optimised_ms, optimised_out = _median_ms(app_path, repeats, device)
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if on_cuda else peak_memory_growth_mib(app_path)
    return BenchRow(
        model=measured.name,
        size=measured.size,
        device=str(device),
        parameters=count_parameters(measured.reference),
        gmacs_per_frame=count_macs(measured.reference, measured.lr) / 1e9,
        reference_ms=measured.reference_ms,
        optimised_ms=optimised_ms,
        speedup=measured.reference_ms / optimised_ms,
        frames_per_second=1000.0 / optimised_ms,
        peak_mib=peak_mib,
        max_abs_diff=(measured.reference_out - optimised_out.float().clamp(0, 1)).abs().max().item(),
    )


def bench_models(
    cases: list[tuple[str, str]], device: torch.device, repeats: int, model_kwargs: dict | None = None
) -> list[BenchRow]:
    """Measure each (model, input size) on ``device``, with random weights (speed does not depend on them).

    Every eager reference runs first, with the CPU allocator as the process found it (glibc's
    defaults in a fresh process); then the optimised paths run as the app runs them, with freed
    memory kept for reuse (:func:`sr_core.device.keep_freed_cpu_memory`), which is process-wide
    and cannot be undone. So the ratios include everything the app does differently.
    """
    measured = [_measure_reference(name, size, device, repeats, model_kwargs or {}) for name, size in cases]
    if device.type == "cpu":
        keep_freed_cpu_memory()
    return [_measure_optimised(case, device, repeats) for case in measured]


def bench_model(name: str, size: str, device: torch.device, repeats: int, model_kwargs: dict | None = None) -> BenchRow:
    """One row of :func:`bench_models`."""
    return bench_models([(name, size)], device, repeats, model_kwargs)[0]


def format_rows(rows: list[BenchRow]) -> str:
    """A plain-text table of the rows, as printed and pasted into the README."""
    header = (
        f"{'model':<16}{'size':>6}{'params':>12}{'GMAC':>9}{'eager ms':>11}{'fast ms':>10}{'x':>7}{'fps':>8}"
        f"{'peak MiB':>10}{'max|d|':>9}"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.model:<16}{row.size:>6}{row.parameters:>12,}{row.gmacs_per_frame:>9.1f}{row.reference_ms:>11.1f}"
            f"{row.optimised_ms:>10.1f}{row.speedup:>7.2f}{row.frames_per_second:>8.2f}{row.peak_mib:>10.0f}{row.max_abs_diff:>9.1e}"
        )
    return "\n".join(lines)


def write_csv(rows: list[BenchRow], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def write_chart(rows: list[BenchRow], path: Path) -> None:
    """A grouped bar chart of eager vs optimised latency per model and size (plotly HTML)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for column, label in (("reference_ms", "eager fp32"), ("optimised_ms", "optimised")):
        figure.add_bar(
            x=[f"{row.model} {row.size}" for row in rows], y=[getattr(row, column) for row in rows], name=label
        )
    figure.update_layout(barmode="group", yaxis_type="log", yaxis_title="ms per frame", title=f"x{SCALE} latency")
    figure.write_html(path, include_plotlyjs="cdn")


def _bench(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    # int8 variants have their own latency table (``quantize --latency``): their reference is their float model.
    default = [name for name in sr_model_names() if get_spec(name).kind != "int8"]
    names = [name for name in args.models.split(",") if name] if args.models else default
    rows = bench_models([(name, size) for size in args.sizes.split(",") for name in names], device, args.repeats)
    print(
        f"device: {device}, threads: {torch.get_num_threads()}, repeats: {args.repeats}, "
        f"app path keeps freed CPU memory: {device.type == 'cpu' and keep_freed_cpu_memory()}, "
        f"tiles of up to {auto_tile_size(device)}**2 LR pixels"
    )
    print(format_rows(rows))
    if args.csv:
        write_csv(rows, Path(args.csv))
    if args.html:
        write_chart(rows, Path(args.html))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``bench`` (its one-line help is in :data:`studio.cli.COMMANDS`)."""
    bench = subparsers.add_parser("bench")
    bench.add_argument("--models", default="", help="comma-separated names (default: every SR model)")
    bench.add_argument("--sizes", default="128,270p", help=f"comma-separated from {', '.join(SIZES)}")
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", default=None)
    bench.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    bench.add_argument("--csv")
    bench.add_argument("--html")
    bench.set_defaults(handler=_bench)
