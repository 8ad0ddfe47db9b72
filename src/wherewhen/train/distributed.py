"""Data-parallel training under ``torchrun``: process group, device per process, rank-0-only side effects.

``torchrun --nproc_per_node=N -m wherewhen train ...`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; across machines add ``--nnodes`` and a rendezvous endpoint. Each process takes one GPU (NCCL) or
runs on the CPU (gloo). Every process sees 1/N of each global batch; DDP averages the gradients, so N processes
with batch B train like one process with batch N*B.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from wherewhen.device import resolve_device


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # we started the process group, so we end it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """How many processes the launcher started (torchrun's WORLD_SIZE); 1 for a plain process."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device_choice: str) -> DistContext:
    """Join the process group torchrun describes (or the one already started), else a single process."""
    world = launched_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        device = resolve_device(device_choice, local_rank)
        return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device, owns_group=False)
    if world <= 1:
        return DistContext(device=resolve_device(device_choice))
    device = resolve_device(device_choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device, owns_group=True)


def teardown(ctx: DistContext, synchronize: bool = True) -> None:
    """End the process group we started, after freeing what still holds it (DDP's reducer).

    ``synchronize`` waits for every rank first, so no rank closes its connections while a peer still talks;
    pass False after an error, when the peers may never arrive (torchrun then stops them).
    """
    if not (ctx.owns_group and dist.is_initialized()):
        return
    gc.collect()
    if synchronize:
        dist.barrier()
    dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
