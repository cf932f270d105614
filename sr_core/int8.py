"""The app's int8 SR models (``swiftsrgan-int8`` ...): a float model plus the activation ranges PTQ observed.

What ships is not a quantized graph (a pickle, and tied to one PyTorch build) but the state of
the PT2E observers after calibration (histograms, min/max: plain tensors in safetensors). At
load time the graph is rebuilt from the float model's bundled weights with the same export and
quantizer, the observers are given that state, and ``convert_pt2e`` produces exactly the model
that was scored. The file records the sha256 of the float weights it was calibrated for, so
ranges never meet other weights. ``python -m sr_core quantize --publish`` writes these files,
and only for a model that meets the bar (at most 0.3 dB lost, faster than FP32 on CPU)
(:mod:`sr_core.quant.publish`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from sr_core.device import cpu_int8_products_saturate
from sr_core.errors import WeightsMismatchError
from sr_core.ptq import compile_frozen, convert, prepare_static
from sr_core.weights import (
    WeightsEntry,
    read_metadata,
    save_weights,
)

OBSERVER_KEY = "activation_post_process_"
# The bar an int8 variant must meet to ship, and to be offered on a CPU: at most this many dB of
# Y-PSNR lost against its float model on every evaluation set.
MAX_PSNR_LOSS_DB = 0.3
# Manifest scores measured with one bit less of activation range, as CPUs without VNNI run
# int8 models (``no_vnni_set5_psnr_y`` ...), beside the VNNI scores (``set5_psnr_y`` ...).
NO_VNNI_PREFIX = "no_vnni_"
# The example input of the export when rebuilding the graph; shapes stay free (a batch of 1 would
# specialise the batch dimension), so any LR size runs.
EXAMPLE_SHAPE = (2, 3, 24, 24)


def observer_state(prepared: torch.fx.GraphModule) -> dict[str, torch.Tensor]:
    """The calibrated ranges of a prepared graph: every observer's buffers, nothing of the network's weights."""
    return {key: value.detach().clone() for key, value in prepared.state_dict().items() if key.startswith(OBSERVER_KEY)}


def save_ranges(
    prepared: torch.fx.GraphModule, path: str | Path, float_model: str, float_sha256: str, calibration: str
) -> str:
    """Write the observers' state of ``prepared`` to ``path`` (safetensors, float32) and return its sha256."""
    metadata = {
        "float_model": float_model,
        "float_sha256": float_sha256,
        "calibration": calibration,
        "torch": torch.__version__,
        "scheme": json.dumps("x86 PT2E int8, PReLU in float"),
    }
    return save_weights(observer_state(prepared), path, metadata, half=False)


def int8_graph(
    network: nn.Module, ranges: dict[str, torch.Tensor], ranges_file: str = "the ranges file"
) -> torch.fx.GraphModule:
    """The int8 graph of ``network`` with the calibrated ``ranges`` (from :func:`observer_state`).

    On CPUs whose int8 kernels saturate (:func:`sr_core.device.cpu_int8_products_saturate`) the
    same ranges are converted with one bit less of activation range. Raises
    :class:`WeightsMismatchError` when the ranges do not fit the graph (another
    architecture or size, or a PyTorch that exports a different graph): calibrate again.
    """
    prepared = prepare_static(network, torch.rand(EXAMPLE_SHAPE), reduce_range=cpu_int8_products_saturate())
    expected = set(observer_state(prepared))
    given = set(ranges)
    if expected != given:
        raise WeightsMismatchError(
            f"{ranges_file} holds {len(given)} observer tensors, this model's int8 graph needs {len(expected)} "
            f"({len(given - expected)} unknown, {len(expected - given)} missing): it was calibrated for another "
            "network or PyTorch; run `python -m sr_core quantize --publish` again"
        )
    prepared.load_state_dict(ranges, strict=False)
    return convert(prepared)


def scores_for_this_cpu(scores: dict[str, float]) -> dict[str, float]:
    """The manifest ``scores`` of an int8 model as this CPU's int8 kernels compute it, keys without prefix."""
    if not cpu_int8_products_saturate():
        return {key: value for key, value in scores.items() if not key.startswith(NO_VNNI_PREFIX)}
    return {key.removeprefix(NO_VNNI_PREFIX): value for key, value in scores.items() if key.startswith(NO_VNNI_PREFIX)}


def refusal_on_this_cpu(entry: WeightsEntry, float_entry: WeightsEntry) -> str | None:
    """Why the int8 model of ``entry`` is not offered on this CPU, or None when it keeps its quality here.

    On CPUs whose int8 kernels saturate, the model runs with one bit less of activation range
    (:func:`int8_graph`), which costs Swift-SRGAN's depthwise layers far more than SRResNet's:
    a model is offered there only where the manifest's ``no_vnni_`` scores meet the publishing bar.
    """
    if not cpu_int8_products_saturate():
        return None
    reason = (
        "this CPU has no AVX512-VNNI, so its int8 kernels add products in saturating 16-bit sums and "
        "run with 7-bit activations"
    )
    here = scores_for_this_cpu(entry.scores)
    sets = sorted(key.removesuffix("_psnr_y") for key in float_entry.scores if key.endswith("_psnr_y"))
    if not sets or any(f"{data}_psnr_y" not in here for data in sets):
        return f"{entry.model} was never scored that way: {reason}; use {float_entry.model}"
    loss, data = max((float_entry.scores[f"{data}_psnr_y"] - here[f"{data}_psnr_y"], data) for data in sets)
    if loss <= MAX_PSNR_LOSS_DB:
        return None
    return (
        f"{entry.model} would lose {loss:.2f} dB against {float_entry.model} on {data} here ({reason}; the bar "
        f"is {MAX_PSNR_LOSS_DB} dB); use {float_entry.model}"
    )


def check_calibrated_for(ranges_file: str | Path, float_sha256: str | None) -> None:
    """Refuse ranges calibrated for other float weights: they would quantize with the wrong ranges."""
    recorded = read_metadata(ranges_file).get("float_sha256")
    if float_sha256 is not None and recorded != float_sha256:
        raise WeightsMismatchError(
            f"{Path(ranges_file).name} was calibrated for float weights {str(recorded)[:12]}..., but the loaded "
            f"weights are {float_sha256[:12]}...; run `python -m sr_core quantize --publish` for these weights"
        )


class Int8Network(nn.Module):
    """An int8 graph run through Inductor (real int8 oneDNN kernels; uncompiled q/dq pairs are slower than float).

    The first call compiles (about a minute on a 2-core CPU); later sizes reuse the compiled
    code with dynamic shapes. CPU only: x86 int8 kernels.
    """

    def __init__(self, graph: torch.fx.GraphModule) -> None:
        super().__init__()
        self.graph = graph
        self._compiled: Callable[[torch.Tensor], torch.Tensor] = compile_frozen(graph)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self._compiled(lr.float().contiguous())
