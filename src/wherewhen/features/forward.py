"""The backbone over decoded frames: float16 cubes, in passes sized for the device.

On CUDA, frames of several videos go through in batches of ``batch_size`` under autocast. On CPU, large batches are
slow: the activations of 64 frames do not fit in cache, and OpenMP's threads wait on each other after every small
operator. Passes of ``CPU_CHUNK`` (2) frames, each on one thread, run side by side in as many Python threads as torch
had intra-op threads (torch releases the GIL inside operators): two to three times the frames per second of batch
64 on two cores (``python -m benchmarks.extraction_speed``). A video's frames are cut into passes the same way
wherever it is embedded (extraction, ``explain``), so its cubes come out bit for bit the same.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import TypeVar

import torch

from wherewhen.backbones import Backbone

K = TypeVar("K")

# Frames per pass on CPU. 2 cores, backbone alone: 2 or 4 frames 85-105 frames/s, 16 ~70, 64 ~30; 2 and 4 frames
# the same within 2 % (48 frames, 8 interleaved pairs, 2026-12-02), one frame 12 % slower. Two rather than four
# because ``explain`` has only its own video: after the last frame is decoded the passes left share the cores, and
# a last pass of 4 frames kept one core busy ~150 ms while the other idled (``features.overlap``).
CPU_CHUNK = 2

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


def pass_size(backbone: Backbone, batch_size: int) -> int:
    """Frames per pass on ``backbone``'s device: how every video is cut, wherever it is embedded."""
    return CPU_CHUNK if backbone.device.type == "cpu" else batch_size


def passes(backbone: Backbone, clip: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """How one video's frames are cut into passes on ``backbone``'s device."""
    return list(clip.split(pass_size(backbone, batch_size)))


def run_backbone(backbone: Backbone, clips: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    """Run the backbone over the frames of several videos; return float16 cubes per video."""
    if backbone.device.type != "cpu":
        frames = torch.cat(clips)
        cubes = torch.cat([embed(backbone, chunk) for chunk in frames.split(batch_size)])
        return list(cubes.split([len(c) for c in clips]))
    videos = ((k, [clip]) for k, clip in enumerate(clips))  # every pass queued at once: all videos in flight
    return [cubes[0] for _, cubes in embed_stream(backbone, videos, batch_size, ahead=len(clips))]


def embed_stream(
    backbone: Backbone, videos: Iterable[tuple[K, list[torch.Tensor]]], batch_size: int, ahead: int = 2
) -> Iterator[tuple[K, list[torch.Tensor]]]:
    """``(key, cubes)`` for each ``(key, clips)`` of ``videos`` (a video's clips: its frames, and its flow images
    with flow), in order, as soon as they are ready, the backbone kept busy across videos.

    On CPU each video's passes are queued as soon as it arrives and up to ``ahead`` videos more stay in flight, so
    a pass that a decoding process slowed down never leaves the other threads waiting at the end of a video. On
    CUDA, videos are gathered until they hold ``batch_size`` frames and go through together.
    """
    if backbone.device.type != "cpu":
        group: list[tuple[K, list[torch.Tensor]]] = []
        for key, clips in videos:
            group.append((key, clips))
            if sum(len(c[0]) for _, c in group) >= batch_size:
                yield from _gathered(backbone, group, batch_size)
                group = []
        yield from _gathered(backbone, group, batch_size)
        return
    with one_thread_per_pass() as threads, ThreadPoolExecutor(threads, thread_name_prefix="wherewhen-backbone") as pool:
        flying: deque[tuple[K, list[list[Future[torch.Tensor]]]]] = deque()

        def finish() -> tuple[K, list[torch.Tensor]]:
            key, futures = flying.popleft()
            return key, [torch.cat([f.result() for f in clip]) for clip in futures]

        try:
            for key, clips in videos:
                futures = [
                    [pool.submit(embed, backbone, c) for c in passes(backbone, clip, batch_size)] for clip in clips
                ]
                flying.append((key, futures))
                while len(flying) > ahead or (flying and all(f.done() for c in flying[0][1] for f in c)):
                    yield finish()
            while flying:
                yield finish()
        finally:
            for _, futures in flying:
                for clip in futures:
                    for f in clip:
                        f.cancel()


def _gathered(
    backbone: Backbone, group: list[tuple[K, list[torch.Tensor]]], batch_size: int
) -> Iterator[tuple[K, list[torch.Tensor]]]:
    if not group:
        return
    kinds = len(group[0][1])
    per_kind = [run_backbone(backbone, [clips[k] for _, clips in group], batch_size) for k in range(kinds)]
    for i, (key, _) in enumerate(group):
        yield key, [per_kind[k][i] for k in range(kinds)]
