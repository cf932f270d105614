"""Which device runs the models, in which precision, how much memory it has free, and how the CPU allocates it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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


# oneDNN's names for the x86 ISAs below VNNI: ``ONEDNN_MAX_CPU_ISA`` set to one of them caps its
# kernels there, as on a CPU that has nothing newer.
_ONEDNN_ISAS_WITHOUT_VNNI = frozenset({"SSE41", "AVX", "AVX2", "AVX512_CORE"})


def cpu_int8_products_saturate() -> bool:
    """Whether oneDNN's int8 convolutions here add u8 x s8 products in pairs saturated to int16.

    Without AVX512-VNNI (AMD before Zen 4, Intel before Cascade Lake, or oneDNN capped by
    ``ONEDNN_MAX_CPU_ISA``) x86 int8 kernels multiply with ``vpmaddubsw``, which sums two
    products into a saturating int16: full-range 8-bit activations overflow it, and the bundled
    int8 Swift-SRGAN fell from 30.0 to 21.4 dB on Set5 (measured with ``ONEDNN_MAX_CPU_ISA=AVX2``).
    CPUs with only AVX-VNNI (no AVX-512) count as saturating here: the cost is one bit of
    activation range, never a wrong result.
    """
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() in _ONEDNN_ISAS_WITHOUT_VNNI
    return capped or not torch.cpu._is_vnni_supported()


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


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (it has ``mallopt`` and ``mallinfo2``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_HEAP_SERVED_BYTES = 2**30
"""Blocks up to this size come from the heap, not from a fresh mmap each."""
_GLIBC_MMAP_THRESHOLD_MAX = 32 * 2**20
"""The most some glibc versions accept for the mmap threshold on 64-bit systems."""


def keep_freed_cpu_memory() -> bool:
    """Make glibc keep freed blocks in the process for reuse instead of returning them to the kernel.

    Why: a network's every layer allocates its output (16 MB for 64 channels at 270p in bf16,
    265 MB at 1080p) and frees its input. glibc serves a block over its mmap threshold (at most
    32 MB) from a fresh mapping and unmaps it on free, and trims the heap top on free too, so the
    next layer's output is new memory whose every 4 KiB page faults in and is zeroed by the
    kernel. On this project's 2-core host that took longer than the convolutions: Swift-SRGAN
    at 270p->1080p ran in 1.78 s with glibc's defaults and 0.77 s with freed memory kept (bf16).
    This is what PyTorch's CUDA caching allocator does on GPUs. The cost: resident memory stays
    at the peak of the largest image run so far.

    Threads share the main heap from here on (one arena): another thread's arena is a heap of at
    most 64 MB, so there every larger block (a 540p or 1080p layer) is a fresh mapping whatever
    the threshold. Gradio runs events in worker threads, so call this before they start
    (:func:`app.launch` does). Process-wide, idempotent; ``SR_STUDIO_CPU_KEEP_FREED=0`` leaves
    glibc's defaults. Returns whether it is in effect (False off glibc, e.g. macOS).
    """
    if not settings.cpu_keep_freed():
        return False
    libc = glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    heap_served = mallopt(_M_MMAP_THRESHOLD, _HEAP_SERVED_BYTES) or mallopt(
        _M_MMAP_THRESHOLD, _GLIBC_MMAP_THRESHOLD_MAX
    )
    return bool(heap_served and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) and mallopt(_M_ARENA_MAX, 1))


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for PyTorch's kernels; 0 keeps PyTorch's default (one per core)."""
    if threads:
        torch.set_num_threads(threads)
