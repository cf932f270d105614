"""Which device runs the models, in which precision, and how much memory it has free."""

from __future__ import annotations

import os

import torch

from sr_core import settings


def pick_device(preference: str | None = None) -> torch.device:
    """``preference`` if given, else CUDA, then Apple MPS, then the CPU."""
    if preference:
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_memory_bytes(device: torch.device) -> int:
    """Free memory on ``device``: CUDA's free memory, else the host's available RAM."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 * 1024**3


def half_precision_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU supports it (no overflow in BN-free nets), else fp16 on CUDA, fp32 elsewhere."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions in hardware here (AVX512-BF16 or AMX), not emulated."""
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def inference_dtype(device: torch.device) -> torch.dtype:
    """The precision the app runs learned models in on ``device``.

    GPUs: :func:`half_precision_dtype`. CPUs with native bfloat16 (oneDNN) run 2-4x faster in
    bf16 at a cost of about one 8-bit level on the output (the benchmark prints the max
    difference; the README gives the PSNR cost), so they use it unless ``SR_STUDIO_CPU_BF16=0``;
    other CPUs emulate bf16 slowly and stay in float32.
    """
    if device.type == "cuda":
        return half_precision_dtype(device)
    if device.type == "cpu" and settings.cpu_bf16() and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32
