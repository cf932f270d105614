"""Several processes, one run: DistributedDataParallel set up from torchrun's environment.

``torchrun --nproc_per_node N -m sr_core train ...`` starts N copies of the command with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and a rendezvous address in their environment. Each
process trains on its share of every global batch and DDP averages the gradients, so the run
follows the same trajectory as one process with the whole batch (up to batch-norm statistics,
which each process computes on its share unless SyncBatchNorm is used on CUDA). Process 0
alone validates, logs and writes checkpoints. Without torchrun the run is one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sr_core.device import pick_device


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in the run: ``rank`` of ``world_size`` processes, training on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Process 0 validates, logs and saves."""
        return self.rank == 0


@contextmanager
def process_group(device_preference: str | None = None) -> Iterator[ProcessGroup]:
    """Join torchrun's process group (gloo on CPU, NCCL on CUDA) for the duration of the block.

    Under torchrun each process takes the GPU ``cuda:LOCAL_RANK``; a lone process takes
    ``device_preference`` or the best device available.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield ProcessGroup(rank=0, world_size=1, device=pick_device(device_preference))
        return
    local_rank = int(os.environ["LOCAL_RANK"])
    device = pick_device(device_preference)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", device_id=device if device.type == "cuda" else None
    )
    try:
        yield ProcessGroup(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)
    finally:
        dist.destroy_process_group()


def wrap(model: nn.Module, group: ProcessGroup) -> nn.Module:
    """``model`` in DDP when there are several processes (parameters broadcast from process 0), else as it is.

    Unused parameters are allowed: Swift-SRGAN's blocks without activation still own a PReLU.
    """
    if group.world_size == 1:
        return model
    if group.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [group.device.index] if group.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside a DDP wrapper (what checkpoints save), or ``model`` itself."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def mean_over_processes(values: dict[str, float], group: ProcessGroup) -> dict[str, float]:
    """Each value averaged over all processes (what the run's log shows); one process returns them as they are."""
    if group.world_size == 1 or not values:
        return values
    stacked = torch.tensor(list(values.values()), dtype=torch.float64, device=group.device)
    dist.all_reduce(stacked)
    return dict(zip(values, (stacked / group.world_size).tolist()))


def broadcast_from_main(value: float, group: ProcessGroup) -> float:
    """Process 0's ``value`` on every process (validation runs on process 0; schedulers everywhere need it)."""
    if group.world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=group.device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())
