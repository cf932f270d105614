"""Shipping an int8 SR model: its calibrated ranges beside the float weights, scored on both kinds of CPU.

The scores are the ones ``python -m sr_core evaluate`` prints for the int8 model (the compiled
int8 network, not the q/dq graph), measured with VNNI kernels and as CPUs without VNNI run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from sr_core.device import cpu_int8_products_saturate
from sr_core.errors import WeightsNotFoundError
from sr_core.evaluation import evaluate_model, manifest_scores
from sr_core.int8 import NO_VNNI_PREFIX, save_ranges
from sr_core.protocol import image_files
from sr_core.registry import INT8_SUFFIX
from sr_core.weights import WeightsEntry, find_weights, read_manifest, weights_dir, write_manifest


def publish_int8(
    float_model: str,
    prepared: torch.fx.GraphModule,
    calibration: str,
    eval_folders: list[Path],
    latency: dict[str, float],
) -> WeightsEntry:
    """Ship ``float_model``'s int8 variant: its ranges beside the bundled float weights, in the manifest with the
    scores ``python -m sr_core evaluate`` prints for it (the compiled int8 model, not the q/dq graph)."""
    float_entry = find_weights(float_model)
    if float_entry is None:
        raise WeightsNotFoundError(f"--publish needs bundled weights of {float_model!r} in {weights_dir()}")
    name = float_model + INT8_SUFFIX
    file = f"{name}.safetensors"
    sha256 = save_ranges(prepared, weights_dir() / file, float_model, float_entry.sha256, calibration)
    training = {
        "float_model": float_model,
        "float_sha256": float_entry.sha256,
        "calibration": calibration,
        "latency_ms": {label: round(ms, 1) for label, ms in latency.items()},
        "quantized_with": "python -m sr_core quantize --publish",
    }
    entry = WeightsEntry(
        model=name, file=file, sha256=sha256, arch_kwargs=dict(float_entry.arch_kwargs), training=training
    )
    write_manifest({**read_manifest(), name: entry})
    entry.scores.update(scores_on_both_kinds_of_cpu(name, eval_folders))
    write_manifest({**read_manifest(), name: entry})
    return entry


def measured_scores(name: str, folders: list[Path]) -> dict[str, float]:
    """The manifest scores of ``name`` on ``folders`` as this process's int8 kernels compute them."""
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
    code = (
        "import json, sys; from pathlib import Path; from sr_core.quant.publish import measured_scores; "
        "print(json.dumps(measured_scores(sys.argv[1], [Path(folder) for folder in sys.argv[2:]])))"
    )
    capped = subprocess.run(
        [sys.executable, "-c", code, name, *map(str, folders)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"},
    )
    without_vnni = json.loads(capped.stdout.strip().splitlines()[-1])
    return {**here, **{NO_VNNI_PREFIX + key: value for key, value in without_vnni.items()}}
