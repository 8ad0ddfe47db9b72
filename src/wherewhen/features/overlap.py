"""One video's frames through the backbone while the rest are still being decoded.

Extraction overlaps decoding with the backbone across videos (worker processes decode the next videos); a single
video, as ``explain`` sees it, has no next video, so here a thread decodes while the backbone embeds the frames
decoded so far, in the passes ``forward.embed_frames`` would make. On CPU the decoder counts as one of torch's
threads: while it runs, one pass fewer runs at a time (single-threaded decoding would otherwise leave a core to
spare, or fight the passes for it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import numpy as np
import torch

from wherewhen.backbones import Backbone
from wherewhen.features.forward import embed_pass, one_thread_per_pass, pass_size


@dataclass
class Overlapped:
    cubes: dict[int, torch.Tensor]  # frame index -> float16 (D, K, K)
    extra: dict[int, list[np.ndarray]]  # frame index -> the frame at the other sizes decoded with it
    decode_seconds: float = 0.0  # until the last frame was decoded
    backbone_seconds: float = 0.0  # after that, until the last cube was ready (the part not overlapped)
    passes: list[int] = field(default_factory=list)  # frames per backbone pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def embed_while_decoding(
    backbone: Backbone, frames: Iterator[tuple[int, list[np.ndarray]]], batch_size: int = 64
) -> Overlapped:
    """Cubes of the frames ``frames`` yields (``(index, [backbone input, other sizes...])``, as
    ``video.decode.iter_frames`` with a ``CenterSquare`` first does): the backbone's inputs are embedded in
    passes while ``frames`` is consumed in a thread. An error raised while decoding is raised here."""
    on_cpu = backbone.device.type == "cpu"
    with one_thread_per_pass() if on_cpu else nullcontext(torch.get_num_threads()) as threads:
        workers = threads if on_cpu else 1
        slots = threading.Semaphore(workers)
        decoder = _Decoder(frames, slots if workers > 1 else nullcontext())  # the decoder's core, while it runs
        out = Overlapped({}, {})
        futures: list[tuple[list[int], Future[torch.Tensor]]] = []
        with ThreadPoolExecutor(workers, thread_name_prefix="wherewhen-backbone") as pool:
            decoder.start()
            try:
                for indices, crops in _passes(decoder.items(), out.extra, pass_size(backbone, batch_size)):
                    futures.append((indices, pool.submit(embed_pass, backbone, crops, slots if on_cpu else None)))
                    out.passes.append(len(indices))
                for indices, future in futures:
                    out.cubes.update(zip(indices, future.result(), strict=True))
            finally:
                decoder.stop()
                for _, future in futures:
                    future.cancel()
    out.decode_seconds = decoder.finished - decoder.started
    out.backbone_seconds = time.perf_counter() - decoder.finished
    return out


class _Decoder:
    """``frames`` consumed in a thread that holds ``slot`` while it runs; ``items`` yields them in order and raises
    what decoding raised. ``finished``: when the last frame was decoded."""

    def __init__(self, frames: Iterator[tuple[int, list[np.ndarray]]], slot: AbstractContextManager[Any]) -> None:
        self.frames = frames
        self.slot = slot
        self.queue: Queue[Any] = Queue()  # unbounded: the frames are all kept anyway
        self.stopping = threading.Event()
        self.started = self.finished = time.perf_counter()
        self.thread = threading.Thread(target=self._run, name="wherewhen-decode", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def items(self) -> Iterator[tuple[int, list[np.ndarray]]]:
        while (item := self.queue.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _run(self) -> None:
        with self.slot:
            try:
                for item in self.frames:
                    if self.stopping.is_set():
                        return
                    self.queue.put(item)
            except BaseException as exc:  # handed to the consumer, which raises it
                self.queue.put(_Failed(exc))
                return
            finally:
                self.finished = time.perf_counter()
                close = getattr(self.frames, "close", None)
                if close is not None:
                    close()
        self.queue.put(_END)


def _passes(
    items: Iterator[tuple[int, list[np.ndarray]]], extra: dict[int, list[np.ndarray]], size: int
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """(frame indices, stacked backbone inputs) of ``items`` in passes of ``size`` frames, the last one shorter; each
    frame's other sizes go to ``extra``."""
    pending: list[tuple[int, np.ndarray]] = []
    for index, images in items:
        pending.append((index, images[0]))
        extra[index] = images[1:]
        if len(pending) == size:
            yield _stacked(pending)
            pending = []
    if pending:
        yield _stacked(pending)


def _stacked(pending: list[tuple[int, np.ndarray]]) -> tuple[list[int], torch.Tensor]:
    return [i for i, _ in pending], torch.from_numpy(np.stack([image for _, image in pending]))
