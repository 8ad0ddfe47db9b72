"""Videos decoded ahead in threads of this process: extraction's decoding when the backbone runs on the CPU.

There the backbone keeps every core busy and decoding only fills the gaps; a thread needs no fork and no copy of the
frames into shared memory (PyAV, OpenCV and NumPy release the GIL), so it is the simplest way to overlap the two.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

from wherewhen.features.decoding import DecodeDataset, DecodedVideo

CORES_PER_DECODING_THREAD = 8  # decoding costs ~1/10 of the backbone's work per frame: one thread feeds 8 cores


def decoding_threads() -> int:
    """Decoding threads for a backbone on all of this machine's cores."""
    return max(1, (os.cpu_count() or 1) // CORES_PER_DECODING_THREAD)


def decoded_ahead(dataset: DecodeDataset, threads: int, ahead: int = 4) -> Iterator[DecodedVideo]:
    """``dataset[0], dataset[1], ...`` in order, up to ``ahead`` items decoded ahead of the one handed out, in
    ``threads`` threads. Closing the iterator drops the items not started and waits for those being decoded."""
    with ThreadPoolExecutor(threads, thread_name_prefix="wherewhen-decode") as pool:
        indices = iter(range(len(dataset)))
        decode = dataset.__getitem__
        pending: deque[Future[DecodedVideo]] = deque(pool.submit(decode, i) for i in islice(indices, ahead))
        try:
            while pending:
                video = pending.popleft().result()
                pending.extend(pool.submit(decode, i) for i in islice(indices, 1))
                yield video
        finally:
            for future in pending:
                future.cancel()
