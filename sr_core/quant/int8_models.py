"""The app's int8 SR models (``swiftsrgan-int8`` ...): a float model plus the activation ranges PTQ observed.

What ships is not a quantized graph (a pickle, and tied to one PyTorch build) but the state of
the PT2E observers after calibration (histograms, min/max: plain tensors in safetensors). At
load time the graph is rebuilt from the float model's bundled weights with the same export and
quantizer, the observers are given that state, and ``convert_pt2e`` produces exactly the model
that was scored. The file records the sha256 of the float weights it was calibrated for, so
ranges never meet other weights. ``python -m sr_core quantize --publish`` writes these files,
and only for a model that meets the bar (at most 0.3 dB lost, faster than FP32 on CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from sr_core.device import cpu_int8_products_saturate
from sr_core.errors import WeightsMismatchError, WeightsNotFoundError
from sr_core.quant.ptq import compile_frozen, convert, prepare_static
from sr_core.weights import (
    WeightsEntry,
    find_weights,
    read_manifest,
    read_metadata,
    save_weights,
    weights_dir,
    write_manifest,
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


def save_ranges(prepared: torch.fx.GraphModule, path: str | Path, float_model: str, float_sha256: str,
                calibration: str) -> str:
    """Write the observers' state of ``prepared`` to ``path`` (safetensors, float32) and return its sha256."""
    metadata = {"float_model": float_model, "float_sha256": float_sha256, "calibration": calibration,
                "torch": torch.__version__, "scheme": json.dumps("x86 PT2E int8, PReLU in float")}
    return save_weights(observer_state(prepared), path, metadata, half=False)


def int8_graph(network: nn.Module, ranges: dict[str, torch.Tensor], ranges_file: str = "the ranges file") -> torch.fx.GraphModule:
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
    reason = ("this CPU has no AVX512-VNNI, so its int8 kernels add products in saturating 16-bit sums and "
              "run with 7-bit activations")
    here = scores_for_this_cpu(entry.scores)
    sets = sorted(key.removesuffix("_psnr_y") for key in float_entry.scores if key.endswith("_psnr_y"))
    if not sets or any(f"{data}_psnr_y" not in here for data in sets):
        return f"{entry.model} was never scored that way: {reason}; use {float_entry.model}"
    loss, data = max((float_entry.scores[f"{data}_psnr_y"] - here[f"{data}_psnr_y"], data) for data in sets)
    if loss <= MAX_PSNR_LOSS_DB:
        return None
    return (f"{entry.model} would lose {loss:.2f} dB against {float_entry.model} on {data} here ({reason}; the bar "
            f"is {MAX_PSNR_LOSS_DB} dB); use {float_entry.model}")


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


def publish_int8(float_model: str, prepared: torch.fx.GraphModule, calibration: str, eval_folders: list[Path],
                 latency: dict[str, float]) -> WeightsEntry:
    """Ship ``float_model``'s int8 variant: its ranges beside the bundled float weights, in the manifest with the
    scores ``python -m sr_core evaluate`` prints for it (the compiled int8 model, not the q/dq graph)."""
    from sr_core.registry import INT8_SUFFIX

    float_entry = find_weights(float_model)
    if float_entry is None:
        raise WeightsNotFoundError(f"--publish needs bundled weights of {float_model!r} in {weights_dir()}")
    name = float_model + INT8_SUFFIX
    file = f"{name}.safetensors"
    sha256 = save_ranges(prepared, weights_dir() / file, float_model, float_entry.sha256, calibration)
    training = {"float_model": float_model, "float_sha256": float_entry.sha256, "calibration": calibration,
                "latency_ms": {label: round(ms, 1) for label, ms in latency.items()},
                "quantized_with": "python -m sr_core quantize --publish"}
    entry = WeightsEntry(model=name, file=file, sha256=sha256, arch_kwargs=dict(float_entry.arch_kwargs),
                         training=training)
    write_manifest({**read_manifest(), name: entry})
    entry.scores.update(scores_on_both_kinds_of_cpu(name, eval_folders))
    write_manifest({**read_manifest(), name: entry})
    return entry


def measured_scores(name: str, folders: list[Path]) -> dict[str, float]:
    """The manifest scores of ``name`` on ``folders`` as this process's int8 kernels compute them."""
    from sr_core.evaluation import evaluate_model, image_files, manifest_scores

    entry = find_weights(name)
    # The ranges file is named, so an unscored model is not refused before it is scored.
    ranges_file = str(weights_dir() / entry.file) if entry else None
    scores: dict[str, float] = {}
    for folder in folders:
        scores.update(manifest_scores(evaluate_model(name, image_files(folder), ranges_file), folder))
    return scores


def scores_on_both_kinds_of_cpu(name: str, folders: list[Path]) -> dict[str, float]:
    """``name``'s manifest scores with VNNI kernels and, ``no_vnni_``-prefixed, as CPUs without VNNI run it.

    A VNNI CPU measures both: the second in a process whose oneDNN is capped at AVX2
    (``ONEDNN_MAX_CPU_ISA``), which runs the same saturating kernels as such a CPU. A CPU without
    VNNI can measure only its own kind.
    """
    here = measured_scores(name, folders)
    if cpu_int8_products_saturate():
        return {NO_VNNI_PREFIX + key: value for key, value in here.items()}
    code = ("import json, sys; from pathlib import Path; from sr_core.quant.int8_models import measured_scores; "
            "print(json.dumps(measured_scores(sys.argv[1], [Path(folder) for folder in sys.argv[2:]])))")
    capped = subprocess.run([sys.executable, "-c", code, name, *map(str, folders)], capture_output=True, text=True,
                            check=True, env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    without_vnni = json.loads(capped.stdout.strip().splitlines()[-1])
    return {**here, **{NO_VNNI_PREFIX + key: value for key, value in without_vnni.items()}}
