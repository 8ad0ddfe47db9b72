"""The backbone over decoded frames: float16 cubes, in passes sized for the device.

On CUDA, frames of several videos go through in batches of ``batch_size`` under autocast. On CPU, large batches are
slow: the activations of 64 frames do not fit in cache, and OpenMP's threads wait on each other after every small
operator. Passes of ``CPU_CHUNK`` frames, each on one thread, run side by side in as many Python threads as torch
had intra-op threads (torch releases the GIL inside operators): about three times the frames per second of batch
64 on two cores (``python -m benchmarks.extraction_speed``). A video's frames are cut into passes the same way
wherever it is embedded (extraction, evaluation, ``explain``), so its cubes come out bit for bit the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import torch

from wherewhen.backbones import Backbone

CPU_CHUNK = 4  # frames per pass on CPU (2 cores: 4 frames ~93 frames/s, 16 ~70, 64 ~30)

_threads_lock = threading.Lock()


@contextmanager
def one_thread_per_pass() -> Iterator[int]:
    """torch's intra-op threads set to one for the block; yields how many there were (the passes to run at once)."""
    with _threads_lock:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        yield threads
    finally:
        with _threads_lock:
            torch.set_num_threads(threads)


def embed(backbone: Backbone, frames: torch.Tensor, slot: threading.Semaphore | None = None) -> torch.Tensor:
    """One pass: uint8 (N, S, S, 3) frames -> float16 (N, D, K, K) on the CPU (``slot`` held while computing)."""
    use_amp = backbone.device.type == "cuda"
    with slot or nullcontext(), torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
        return backbone(frames).to(torch.float16).cpu()


def passes(backbone: Backbone, clip: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """How one video's frames are cut into passes on ``backbone``'s device."""
    return list(clip.split(CPU_CHUNK if backbone.device.type == "cpu" else batch_size))


def run_backbone(backbone: Backbone, clips: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    """Run the backbone over the frames of several videos; return float16 cubes per video."""
    if backbone.device.type != "cpu":
        frames = torch.cat(clips)
        cubes = torch.cat([embed(backbone, chunk) for chunk in frames.split(batch_size)])
    else:
        chunks = [chunk for clip in clips for chunk in passes(backbone, clip, batch_size)]
        with one_thread_per_pass() as threads:
            if threads == 1 or len(chunks) == 1:
                cubes = torch.cat([embed(backbone, chunk) for chunk in chunks])
            else:
                with ThreadPoolExecutor(min(threads, len(chunks)), thread_name_prefix="wherewhen-backbone") as pool:
                    cubes = torch.cat(list(pool.map(lambda chunk: embed(backbone, chunk), chunks)))
    return list(cubes.split([len(c) for c in clips]))
