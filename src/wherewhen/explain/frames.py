"""The sampled frames of an explained video at display size, decoded a chunk at a time (long videos fit in memory)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wherewhen.explain.explanation import Explanation
from wherewhen.video.decode import read_frames
from wherewhen.video.probe import VideoInfo
from wherewhen.video.transforms import scaled_size


@dataclass(frozen=True)
class Display:
    """How original pixels map onto the displayed frame: ``x_display = x * sx``, ``y_display = y * sy``."""

    width: int
    height: int
    sx: float
    sy: float
    shorter_side: int | None  # passed to read_frames; None = original size

    def crop(self, crop: Sequence[float]) -> tuple[float, float, float, float]:
        x, y, w, h = (float(v) for v in crop)
        return (x * self.sx, y * self.sy, w * self.sx, h * self.sy)

    def box(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = (float(v) for v in box)
        return (x1 * self.sx, y1 * self.sy, x2 * self.sx, y2 * self.sy)


def display_for(width: int, height: int, max_side: int) -> Display:
    """Frames larger than ``max_side`` on their longer side are shown scaled down (aspect kept)."""
    scale = min(1.0, max_side / max(width, height))
    if scale >= 1.0:
        return Display(width, height, 1.0, 1.0, None)
    shorter = max(2, round(min(width, height) * scale / 2) * 2)  # even, as H.264 in yuv420p needs
    w, h = scaled_size(width, height, shorter)
    return Display(w, h, w / width, h / height, shorter)


def read_display_frames(
    path: str | Path,
    indices: Sequence[int],
    display: Display,
    *,
    info: VideoInfo | None = None,
    threads: int = 0,
) -> dict[int, np.ndarray]:
    """{frame index: RGB frame at ``display`` size} of some frames of a video (``threads`` as in ``read_frames``)."""
    wanted = sorted(set(indices))
    frames = read_frames(path, wanted, info=info, shorter_side=display.shorter_side, threads=threads)
    return dict(zip(wanted, frames, strict=True))


def iter_display_frames(
    explanation: Explanation,
    display: Display,
    decoded: Mapping[int, np.ndarray] | None = None,
    chunk: int = 32,
) -> Iterator[np.ndarray]:
    """Yield the RGB frame of every row of ``explanation`` in row order, at ``display`` size; frames already in
    ``decoded`` ({frame index: frame}) are not decoded again, the others a chunk at a time, the next chunk in a
    thread while the caller draws the current one."""
    decoded = decoded or {}
    indices = [f.index for f in explanation.frames]
    parts = [indices[first : first + chunk] for first in range(0, len(indices), chunk)]

    def fetch(part: list[int]) -> dict[int, np.ndarray]:
        missing = [i for i in part if i not in decoded]
        return read_display_frames(explanation.video.path, missing, display, threads=1) if missing else {}

    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(fetch, parts[0]) if parts else None
        for k, part in enumerate(parts):
            assert ahead is not None
            fresh = ahead.result()
            ahead = pool.submit(fetch, parts[k + 1]) if k + 1 < len(parts) else None
            for i in part:
                yield decoded[i] if i in decoded else fresh[i]
