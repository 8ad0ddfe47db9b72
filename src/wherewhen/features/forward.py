"""Embedding: the backbone over decoded frames, float16 cubes out, in passes sized for the device.

``embed_pass`` runs one pass, ``embed_frames`` the frames of several videos at once, ``embed_stream`` a stream of
videos (``features.overlap.embed_while_decoding``: one video while it decodes). On CUDA frames go through in batches
of ``batch_size`` under autocast; on CPU in passes of ``CPU_CHUNK`` frames, each on one thread, as many side by side
as torch had intra-op threads (torch releases the GIL inside operators). A video is cut into passes the same way
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

# Frames per CPU pass: 2-3x the frames/s of batch 64 on "backbone-only forward" (benchmarks/RESULTS.md).
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


def embed_pass(backbone: Backbone, frames: torch.Tensor, slot: threading.Semaphore | None = None) -> torch.Tensor:
    """One pass: uint8 (N, S, S, 3) frames -> float16 (N, D, K, K) on the CPU (``slot`` held while computing)."""
    use_amp = backbone.device.type == "cuda"
    with slot or nullcontext(), torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
        return backbone(frames).to(torch.float16).cpu()


def pass_size(backbone: Backbone, batch_size: int) -> int:
    """Frames per pass on ``backbone``'s device: how every video is cut, wherever it is embedded."""
    return CPU_CHUNK if backbone.device.type == "cpu" else batch_size


def embed_frames(backbone: Backbone, clips: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    """Run the backbone over the frames of several videos; return float16 cubes per video."""
    if backbone.device.type != "cpu":
        frames = torch.cat(clips)
        cubes = torch.cat([embed_pass(backbone, chunk) for chunk in frames.split(batch_size)])
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
                    [pool.submit(embed_pass, backbone, c) for c in clip.split(pass_size(backbone, batch_size))]
                    for clip in clips
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
    per_kind = [embed_frames(backbone, [clips[k] for _, clips in group], batch_size) for k in range(kinds)]
    for i, (key, _) in enumerate(group):
        yield key, [per_kind[k][i] for k in range(kinds)]
