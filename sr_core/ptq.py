"""Static post-training quantization with PyTorch 2 export (torchao's PT2E flow, x86 backend).

Why PT2E and not FX or eager mode: on SRGAN-style generators FX computes int8 PReLU wrongly
and eager mode crashes on it; X86InductorQuantizer leaves PReLU in float, folds BN into the
convs, and handles depthwise convs and PixelShuffle. Activations are unsigned and per tensor
(histogram observer), weights signed, symmetric and per output channel, as PyTorch's x86
default. INT6 is the same scheme with 6-bit ranges; no CPU kernel computes in 6 bits, so it
runs as quantize/dequantize pairs in float (simulated, "fake quant"): its accuracy is what a
6-bit device would give, its speed is not measured. Every converted model computes in that
q/dq form; :func:`compile_frozen` lowers an INT8 one to real int8 kernels.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable

import torch
from torch import nn

from sr_core.errors import CompilerMissingError, QuantSettingError

MIN_BITS, MAX_BITS = 2, 8
# PyTorch's x86 default: the smallest scale an observer may choose.
OBSERVER_EPS = 2**-12


@functools.cache
def load_torchao() -> None:
    """Import torchao's PT2E flow (lazily: it takes seconds), without the deprecation notice torch logs on import."""
    pytree_log = logging.getLogger("torch.utils._pytree")
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401
    except ModuleNotFoundError:
        raise QuantSettingError("quantization needs torchao: pip install -r requirements.txt") from None
    finally:
        pytree_log.setLevel(level)


def quantization_config(bits: int = 8, qat: bool = False, reduce_range: bool = False):  # -> torchao QuantizationConfig
    """PyTorch's x86 int8 config with activations in [0, 2^bits - 1] and weights in [-2^(bits-1), 2^(bits-1) - 1].

    ``reduce_range`` keeps activations in [0, 2^(bits-1) - 1], one bit less (PyTorch's
    ``reduce_range``): x86 CPUs without VNNI add each pair of u8 x s8 products in saturating int16,
    and 127 * 128 * 2 is the largest pair sum that cannot saturate (see
    :func:`sr_core.device.cpu_int8_products_saturate`).

    PTQ observes activations with a histogram (the range that minimises the rounding error)
    and weights per output channel. For QAT (``qat``) the same observers sit inside plain
    ``FakeQuantize`` modules: torchao's default fused fake-quant disagrees with the model
    ``convert_pt2e`` produces from it (logits off by 0.3 at int8, by 4 at int4, measured), while
    this pair converts exactly.
    """
    load_torchao()
    from torchao.quantization.pt2e.fake_quantize import FakeQuantize
    from torchao.quantization.pt2e.observer import HistogramObserver, MovingAveragePerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import get_default_x86_inductor_quantization_config

    if not MIN_BITS <= bits <= MAX_BITS:
        raise QuantSettingError(f"bit width must be {MIN_BITS}-{MAX_BITS}, not {bits}")
    config = get_default_x86_inductor_quantization_config()
    activation = dataclasses.replace(config.input_activation, quant_min=0, quant_max=2 ** (bits - reduce_range) - 1)
    weight = dataclasses.replace(config.weight, quant_min=-(2 ** (bits - 1)), quant_max=2 ** (bits - 1) - 1)
    if qat:
        activation = dataclasses.replace(
            activation, observer_or_fake_quant_ctr=FakeQuantize.with_args(observer=HistogramObserver, eps=OBSERVER_EPS)
        )
        weight = dataclasses.replace(
            weight,
            observer_or_fake_quant_ctr=FakeQuantize.with_args(
                observer=MovingAveragePerChannelMinMaxObserver, eps=OBSERVER_EPS
            ),
        )
    return dataclasses.replace(
        config, input_activation=activation, output_activation=activation, weight=weight, is_qat=qat
    )


def freeze_activation_ranges(model: nn.Module) -> None:
    """Stop the activation observers of a QAT model (their ranges stay as calibrated).

    Weight ranges keep following the weights.
    """
    load_torchao()
    from torchao.quantization.pt2e.fake_quantize import FakeQuantize
    from torchao.quantization.pt2e.observer import HistogramObserver

    for module in model.modules():
        if isinstance(module, FakeQuantize) and isinstance(module.activation_post_process, HistogramObserver):
            module.disable_observer()


def quantizer(bits: int = 8, qat: bool = False, reduce_range: bool = False):  # -> X86InductorQuantizer
    """The x86 quantizer annotating every conv, linear, add and pool with :func:`quantization_config`."""
    load_torchao()
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import X86InductorQuantizer

    return X86InductorQuantizer().set_global(quantization_config(bits, qat, reduce_range))


def export_network(network: nn.Module, example: torch.Tensor) -> torch.fx.GraphModule:
    """``network``'s graph captured by ``torch.export`` with free batch size, height and width.

    A copy is exported, so the float network stays usable as the reference.
    """
    free = torch.export.Dim.AUTO
    dims = {0: free, 2: free, 3: free}
    return torch.export.export(copy.deepcopy(network).eval(), (example,), dynamic_shapes=(dims,)).module()


def prepare_static(
    network: nn.Module, example: torch.Tensor, bits: int = 8, reduce_range: bool = False
) -> torch.fx.GraphModule:
    """``network`` (float, eval mode) exported with free shapes and annotated for ``bits``-bit PTQ: observers, no data seen yet.

    The observers' state (histograms, min/max) does not depend on ``reduce_range``; only the
    scales that :func:`convert` derives from it do.
    """
    load_torchao()
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    return prepare_pt2e(export_network(network, example), quantizer(bits, reduce_range=reduce_range))


def convert(prepared: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """The quantized (q/dq) graph of a prepared graph, from the ranges its observers saw."""
    load_torchao()
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    return convert_pt2e(prepared)


@torch.no_grad()
def calibrate(network: nn.Module, calibration: Iterable[torch.Tensor], bits: int = 8) -> torch.fx.GraphModule:
    """The prepared graph of ``network`` after observing every batch of ``calibration`` (at least one)."""
    batches = iter(calibration)
    first = next(batches, None)
    if first is None:
        raise QuantSettingError("PTQ needs at least one calibration batch")
    prepared = prepare_static(network, first, bits)
    prepared(first)
    for batch in batches:
        prepared(batch)
    return prepared


def quantize_static(network: nn.Module, calibration: Iterable[torch.Tensor], bits: int = 8) -> torch.fx.GraphModule:
    """``network`` (float, eval mode) quantized to ``bits`` after observing activation ranges on ``calibration``.

    ``calibration`` yields input batches (NCHW, the network's input range); they are the only
    data PTQ sees: real crops for data-dependent PTQ, generator samples for data-free PTQ.
    """
    return convert(calibrate(network, calibration, bits))


def require_cpp_compiler() -> None:
    """Raise :class:`CompilerMissingError` unless Inductor finds the C++ compiler it builds CPU kernels with.

    Checked before compiling so that a host without one (a slim Docker image) is told what to
    install, instead of failing inside torch on the first image.
    """
    from torch._inductor.cpp_builder import get_cpp_compiler
    from torch._inductor.exc import InvalidCxxCompiler

    try:
        get_cpp_compiler()
    except InvalidCxxCompiler:
        raise CompilerMissingError(
            "int8 models compile C++ kernels on first use and no C++ compiler was found: install g++ "
            "(Debian/Ubuntu: apt-get install g++) or point CXX at one, or use the float model"
        ) from None


def compile_frozen(network: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` compiled by Inductor with frozen weights (compiles on the first call, per input shape).

    Freezing turns weights into constants so Inductor can fold BN and, in a quantized graph,
    fuse each dequantize-conv-quantize into one oneDNN int8 conv; without it the q/dq pairs
    run in float and are slower than float. It is set around each call because
    ``torch.compile(options={"freezing": True})`` fails on int8 convs (qconv_prepack under
    fake tensors; torch 2.14.1, measured) where the global setting works.
    """
    from torch._inductor import config as inductor_config

    require_cpp_compiler()
    compiled = torch.compile(network)

    def run(inputs: torch.Tensor) -> torch.Tensor:
        with inductor_config.patch(freezing=True):
            return compiled(inputs)

    return run
