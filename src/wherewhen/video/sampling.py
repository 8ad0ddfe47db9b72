"""Which frames of a video become cube rows: uniform, TSN segments, a fixed-fps stride, or sliding windows.

Every strategy returns :class:`Sampled`: the decoded frame indices of the cube rows (time order, repeats allowed
for videos shorter than T) and the clips, as lists of row positions (one clip of every row, except for sliding
windows).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np

from wherewhen.errors import ConfigError

STRATEGIES = ("uniform", "tsn", "fps", "sliding")


@dataclass(frozen=True)
class Sampled:
    frame_indices: list[int]
    clips: list[list[int]]


@dataclass(frozen=True)
class SamplingSpec:
    """How to pick frames.

    strategy: ``uniform`` (T frames at the centres of T equal parts of the video; the papers use T=30),
              ``tsn`` (T segments; a random frame per segment when ``train``, the centre frame otherwise),
              ``fps`` (one frame every 1/rate seconds over the whole video, at most ``max_frames``),
              ``sliding`` (frames at ``rate`` fps, grouped into windows of T rows every ``stride`` rows).
    """

    strategy: str = "uniform"
    frames: int = 16
    rate: float = 2.0
    stride: int = 8
    max_frames: int = 0
    train: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown sampling strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.frames < 1:
            raise ConfigError(f"sampling needs at least one frame per clip, got frames={self.frames}")
        if self.strategy in ("fps", "sliding") and self.rate <= 0:
            raise ConfigError(f"sampling rate must be positive, got {self.rate}")
        if self.strategy == "sliding" and self.stride < 1:
            raise ConfigError(f"sliding-window stride must be at least 1, got {self.stride}")

    def to_dict(self) -> dict[str, object]:
        """The fields that matter for this strategy (stored with the features)."""
        keep = {
            "uniform": ("strategy", "frames"),
            "tsn": ("strategy", "frames", "train", "seed"),
            "fps": ("strategy", "rate", "max_frames"),
            "sliding": ("strategy", "frames", "rate", "stride"),
        }[self.strategy]
        data = asdict(self)
        return {k: data[k] for k in keep}


def sample(spec: SamplingSpec, num_frames: int, fps: float, key: str = "") -> Sampled:
    """Choose frames of a video with ``num_frames`` frames at ``fps``; ``key`` seeds per-video randomness."""
    if num_frames < 1:
        raise ConfigError("cannot sample frames from an empty video")
    if spec.strategy == "uniform":
        rows = uniform_indices(num_frames, spec.frames)
        return Sampled(rows, [list(range(len(rows)))])
    if spec.strategy == "tsn":
        rng = np.random.default_rng(_seed(spec.seed, key)) if spec.train else None
        rows = tsn_indices(num_frames, spec.frames, rng)
        return Sampled(rows, [list(range(len(rows)))])
    rows = fps_indices(num_frames, fps, spec.rate, spec.max_frames)
    if spec.strategy == "fps":
        return Sampled(rows, [list(range(len(rows)))])
    return sliding_windows(rows, spec.frames, spec.stride)


def uniform_indices(num_frames: int, frames: int) -> list[int]:
    """Centres of ``frames`` equal parts of the video (frames repeat when the video is shorter)."""
    return [min(num_frames - 1, int((k + 0.5) * num_frames / frames)) for k in range(frames)]


def tsn_indices(num_frames: int, segments: int, rng: np.random.Generator | None) -> list[int]:
    """One frame per segment: random within the segment with ``rng``, its centre without."""
    out = []
    for k in range(segments):
        lo = k * num_frames / segments
        hi = (k + 1) * num_frames / segments
        first, last = math.floor(lo), max(math.ceil(hi) - 1, math.floor(lo))
        last = min(last, num_frames - 1)
        out.append(int(rng.integers(first, last + 1)) if rng is not None else min(num_frames - 1, int((lo + hi) / 2)))
    return out


def fps_indices(num_frames: int, fps: float, rate: float, max_frames: int = 0) -> list[int]:
    """Frames every 1/rate seconds (every frame when ``rate`` >= fps); at most ``max_frames`` if positive."""
    step = max(fps / rate, 1.0)
    count = max(1, math.floor((num_frames - 1) / step) + 1)
    rows = sorted({min(num_frames - 1, round(k * step)) for k in range(count)})
    if max_frames and len(rows) > max_frames:
        rows = [rows[i] for i in uniform_indices(len(rows), max_frames)]
    return rows


def sliding_windows(rows: list[int], window: int, stride: int) -> Sampled:
    """Windows of ``window`` consecutive rows every ``stride`` rows; the last window ends at the last row.

    Videos with fewer rows than a window give one window with its rows repeated to full length.
    """
    if len(rows) <= window:
        positions = [min(len(rows) - 1, int((k + 0.5) * len(rows) / window)) for k in range(window)]
        return Sampled(rows, [positions])
    starts = list(range(0, len(rows) - window + 1, stride))
    if starts[-1] != len(rows) - window:
        starts.append(len(rows) - window)
    return Sampled(rows, [list(range(s, s + window)) for s in starts])


def _seed(seed: int, key: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
