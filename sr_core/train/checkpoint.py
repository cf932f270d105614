"""Checkpoints that let a run continue exactly where it stopped.

A checkpoint is one ``torch.save`` dict: the step, the configuration, the generator and
discriminator, their optimisers and schedulers, the grad scaler, the Python/NumPy/torch RNG
states and the last validation scores. Everything in it is a tensor, a number, a string or a
list/dict of those, so it loads with ``torch.load(weights_only=True)``: opening a checkpoint
never runs pickled code. Frozen feature networks are not saved (they are rebuilt from their
source), so a checkpoint is little more than the models and their Adam moments.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sr_core.errors import CorruptWeightsError, TrainingConfigError
from sr_core.files import atomic_target

CHECKPOINT_NAME = "last.pt"
# Where a run that keeps a moving average of its generator stores it: BasicSR's key, which
# weights.unwrap_state_dict prefers, so --init-from RUN and every weights loader take the average.
EMA_KEY = "params_ema"


def checkpoint_file(run_or_file: str | Path) -> Path:
    """The checkpoint of a run folder (``RUN_DIR/last.pt``), or ``run_or_file`` when it is a file."""
    path = Path(run_or_file)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def is_run_checkpoint(path: Path) -> bool:
    """Whether ``path`` (from :func:`checkpoint_file`) is a run's checkpoint, not a weights file that ends a chain."""
    return path.suffix == ".pt" and path.is_file()


def shipped_generator_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The generator weights a run ships: its moving average when it keeps one, else the last step's."""
    return checkpoint.get(EMA_KEY) or checkpoint["generator"]


def save_checkpoint(checkpoint: dict[str, Any], path: Path) -> None:
    """Write ``checkpoint`` atomically: a crash while saving leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as temporary:
        torch.save(checkpoint, temporary)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, on the CPU, loaded without running pickled code."""
    if not path.is_file():
        raise TrainingConfigError(f"no checkpoint at {path}; start the run without --resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError) as error:
        raise CorruptWeightsError(f"{path} is not a readable checkpoint ({str(error)[:200]})") from None


def rng_state() -> dict[str, Any]:
    """The global RNG states of Python, NumPy, torch and CUDA, as tensors and plain values."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state` (CUDA states only when this machine has as many GPUs)."""
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and torch.cuda.device_count() == len(state["cuda"]):
        torch.cuda.set_rng_state_all(state["cuda"])
