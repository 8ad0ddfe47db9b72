"""One video's frames through the backbone while the rest are still being decoded.

Extraction overlaps decoding with the backbone across videos (worker processes decode the next videos); a single
video, as ``explain`` sees it, has no next video, so here a thread decodes while the backbone embeds the frames
decoded so far, in the passes ``forward.run_backbone`` would make. On CPU the decoder counts as one of torch's
threads: while it runs, one pass fewer runs at a time (single-threaded decoding would otherwise leave a core to
spare, or fight the passes for it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

import numpy as np
import torch

from wherewhen.backbones import Backbone
from wherewhen.features.forward import embed, one_thread_per_pass, pass_size


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
    chunk = pass_size(backbone, batch_size)
    with one_thread_per_pass() if on_cpu else nullcontext(torch.get_num_threads()) as threads:
        workers = threads if on_cpu else 1
        slots = threading.Semaphore(workers)
        queue: Queue[Any] = Queue()  # unbounded: the frames are all kept anyway
        stop = threading.Event()
        start = time.perf_counter()
        decoded_at = [start]

        def produce() -> None:
            with slots if workers > 1 else nullcontext():  # the decoder's core, given back when it is done
                try:
                    for item in frames:
                        if stop.is_set():
                            return
                        queue.put(item)
                except BaseException as exc:  # handed to the consumer, which raises it
                    queue.put(_Failed(exc))
                    return
                finally:
                    decoded_at[0] = time.perf_counter()
                    close = getattr(frames, "close", None)
                    if close is not None:
                        close()
            queue.put(_END)

        out = Overlapped({}, {})
        futures: list[tuple[list[int], Future[torch.Tensor]]] = []
        decoder = threading.Thread(target=produce, name="wherewhen-decode", daemon=True)
        with ThreadPoolExecutor(workers, thread_name_prefix="wherewhen-backbone") as pool:
            decoder.start()
            try:
                pending: list[tuple[int, np.ndarray]] = []
                while True:
                    item = queue.get()
                    if isinstance(item, _Failed):
                        raise item.error
                    if item is not _END:
                        index, images = item
                        pending.append((index, images[0]))
                        out.extra[index] = images[1:]
                    if pending and (len(pending) == chunk or item is _END):
                        crops = torch.from_numpy(np.stack([image for _, image in pending]))
                        slot = slots if on_cpu else None
                        futures.append(([i for i, _ in pending], pool.submit(embed, backbone, crops, slot)))
                        out.passes.append(len(pending))
                        pending = []
                    if item is _END:
                        break
                for indices, future in futures:
                    out.cubes.update(zip(indices, future.result(), strict=True))
            finally:
                stop.set()
                decoder.join()
                for _, future in futures:
                    future.cancel()
    end = time.perf_counter()
    out.decode_seconds = decoded_at[0] - start
    out.backbone_seconds = end - decoded_at[0]
    return out
