"""Knobs of the embedded where-and-when benchmark and its two presets.

Every field of :class:`BenchmarkConfig` is a scalar knob, so ``wherewhen generate ROOT --set frames=64`` can set any
of them. ``default`` is what ``make demo`` and the tests use (generation plus feature extraction in about two minutes
on a 2-core CPU); ``full`` is larger and harder, for benchmarks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from wherewhen.datasets.benchmark.sources import CLASS_SOURCES
from wherewhen.errors import ConfigError

GENERATOR_VERSION = "wherewhen-benchmark/1"


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to generate. Sizes are in pixels, times in frames unless named otherwise.

    classes:          number of classes (the first ``classes`` appearance sources, see ``sources.CLASS_SOURCES``).
    videos_per_class: videos of each class; ``train_fraction`` of them (rounded) go to the train split.
    frames, fps:      length and frame rate of every video.
    width, height:    frame size. Square by default so any resize-or-center-crop policy of a feature extractor
                      sees the whole frame.
    distractors:      objects besides the actor; each shows a class drawn from the video's class mix.
    concentration:    Dirichlet concentration of each video's class mix (small: a few random classes crowd the
                      distractors of a video; large: each distractor's class is nearly uniform over all classes).
    object_size:      mean side of an object as a fraction of the shorter frame side (each object varies +-15 %).
    segment_min/max:  length of the action segment as a fraction of the video, drawn uniformly per video.
    switch_prob:      chance that a distractor changes its class once, at a random frame.
    noise:            standard deviation of the Gaussian pixel noise (0-255 scale) added to every frame.
    crf:              libx264 constant rate factor (lower = closer to the rendered frames, larger files).
    seed:             seed of every random choice; the same config and seed give identical files.
    """

    classes: int = 5
    videos_per_class: int = 40
    frames: int = 48
    fps: int = 10
    width: int = 160
    height: int = 160
    distractors: int = 6
    concentration: float = 0.3
    object_size: float = 0.2
    segment_min: float = 0.25
    segment_max: float = 0.4
    switch_prob: float = 0.5
    noise: float = 3.0
    train_fraction: float = 0.7
    crf: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (2 <= self.classes <= len(CLASS_SOURCES), f"classes must be in 2..{len(CLASS_SOURCES)}"),
            (self.videos_per_class >= 2, "videos_per_class must be at least 2 (one train, one test)"),
            (self.frames >= 8, "frames must be at least 8"),
            (1 <= self.fps <= 120, "fps must be in 1..120"),
            (self.width >= 64 and self.height >= 64, "width and height must be at least 64"),
            (self.width % 2 == 0 and self.height % 2 == 0, "width and height must be even (yuv420p)"),
            (0 <= self.distractors <= 16, "distractors must be in 0..16"),
            (0.01 <= self.concentration <= 100.0, "concentration must be in 0.01..100"),
            (0.05 <= self.object_size <= 0.45, "object_size must be in 0.05..0.45"),
            (0.0 < self.segment_min <= self.segment_max <= 1.0, "need 0 < segment_min <= segment_max <= 1"),
            (0.0 <= self.switch_prob <= 1.0, "switch_prob must be in 0..1"),
            (0.0 <= self.noise <= 64.0, "noise must be in 0..64"),
            (0.0 < self.train_fraction < 1.0, "train_fraction must be in (0, 1)"),
            (0 <= self.crf <= 51, "crf must be in 0..51"),
            (self.seed >= 0, "seed must be non-negative"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ConfigError(f"benchmark config: {problem} ({self.describe()})")
        if round(self.segment_min * self.frames) < 2:
            raise ConfigError(f"benchmark config: segment_min * frames must be at least 2 frames ({self.describe()})")

    def describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> BenchmarkConfig:
        """A copy with some knobs changed; strings (from ``--set knob=value``) are converted to the knob's type."""
        types = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in types:
                raise ConfigError(f"unknown benchmark knob {name!r}; knobs: {', '.join(types)}")
            kind = int if types[name] in (int, "int") else float
            try:
                changes[name] = kind(value) if not isinstance(value, str) else _parse(kind, value)
            except ValueError:
                raise ConfigError(f"benchmark knob {name}={value!r}: expected {kind.__name__}") from None
        return dataclasses.replace(self, **changes)


def _parse(kind: type, text: str) -> int | float:
    if kind is int:
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    return float(text)


PRESETS: dict[str, BenchmarkConfig] = {
    # 5 classes x 40 videos x 48 frames at 160x160: about 30 s to generate with 2 workers on a 2-core CPU.
    "default": BenchmarkConfig(),
    # All 12 classes, more and longer videos, larger frames, more and smaller objects, shorter segments.
    "full": BenchmarkConfig(
        classes=12,
        videos_per_class=60,
        frames=64,
        width=224,
        height=224,
        distractors=8,
        object_size=0.18,
        segment_max=0.35,
    ),
}


def preset(name: str) -> BenchmarkConfig:
    """The named preset; raises ConfigError for an unknown name."""
    if name not in PRESETS:
        raise ConfigError(f"unknown benchmark preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]
