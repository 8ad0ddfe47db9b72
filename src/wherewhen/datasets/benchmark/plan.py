"""What each video shows, decided before any pixel is drawn: segment, objects, their classes, paths and boxes.

A plan is cheap to make (no images), so a resumed generation re-plans finished videos to write their annotations
without rendering them again. Every random choice comes from its own stream,
``SeedSequence(seed, spawn_key=(class, video, stream, ...))``: changing one knob (say the number of distractors)
leaves the segment, the actor and the background of every video as they were.

The design that makes "where" and "when" necessary (docs/benchmark.md has the reasoning):

* every frame shows ``1 + distractors`` objects, each displaying crops of some class's photo inside a coloured frame;
* a distractor shows a class drawn from the video's class mix (a symmetric Dirichlet draw over ALL classes, the
  true one included), kept for the whole video or switched once; so a few random classes crowd each video and
  no class is over-represented on average except through the actor;
* the actor shows the true class only inside the segment ``[sf, ef)`` and only then wears the class-agnostic cue
  (a yellow frame); outside it shows one other class in a frame of another colour, like any distractor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wherewhen.datasets.benchmark.config import BenchmarkConfig
from wherewhen.datasets.benchmark.sources import BACKGROUNDS, FOOTAGE, background_shape, class_names

# Independent random streams of one video.
_SEGMENT, _ACTOR, _DISTRACTOR, _BACKGROUND, _NOISE, _SPLIT, _MIX = range(7)

WINDOW_RADIUS = (0.3, 0.45)  # half-height of the photo crop an object shows, as a fraction of the photo's short side
WINDOW_DRIFT = 0.004  # how fast that crop pans across the photo, in photo short sides per frame (at most)
SPEED = (0.06, 0.22)  # object speed in frame short sides per second
ZOOM = (1.0, 1.4)  # background crop: source short side / crop short side
PAN = 0.3  # background pan over the video, at most this fraction of the source short side
BACKGROUND_SHORT = 1.25  # background sources are scaled to this many times the larger frame side
CLASS_PHOTO_SHORT = 3.0  # class photos are scaled to this many times the largest object side
# Every object wears a frame in one of these colours; only the actor, only inside its segment, wears CUE_COLOR.
FRAME_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255),  # white
    (0, 220, 255),  # cyan
    (255, 40, 220),  # magenta
    (40, 90, 255),  # blue
    (230, 20, 20),  # red
)
CUE_COLOR = (255, 232, 0)  # yellow


def rng(seed: int, *key: int) -> np.random.Generator:
    """The random stream ``key`` of a benchmark seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def video_stem(class_name: str, video_index: int) -> str:
    """UCF101-style stem; every video is its own group (own background, own camera path)."""
    return f"v_{class_name}_g{video_index + 1:02d}_c01"


def ring_width(config: BenchmarkConfig) -> int:
    """Thickness of the cue ring, also the margin every object keeps from the frame border."""
    return max(2, round(0.09 * config.object_size * min(config.width, config.height)))


def max_object_side(config: BenchmarkConfig) -> int:
    return math.ceil(config.object_size * min(config.width, config.height) * 1.15 * 1.08) + 1


def class_photo_short(config: BenchmarkConfig) -> int:
    return round(CLASS_PHOTO_SHORT * max_object_side(config))


def background_short(config: BenchmarkConfig) -> int:
    return round(BACKGROUND_SHORT * max(config.width, config.height))


@dataclass(frozen=True)
class View:
    """Which part of a class photo an object shows: a crop window that pans slowly, optionally mirrored.

    centre(t) = centre0 + drift * t, reflected to stay inside [radius, 1 - radius] (fractions of the photo);
    radius is the half-height of the window as a fraction of the photo's short side.
    """

    centre0: tuple[float, float]
    drift: tuple[float, float]
    radius: float
    flip: bool


@dataclass(frozen=True)
class ObjectPlan:
    """One object: content rectangle (x, y) per frame and size (w, h), class shown per frame, views, frame colour."""

    xy: np.ndarray  # (T, 2) int, top-left corner of the content rectangle (the coloured frame lies outside it)
    size: tuple[int, int]
    shows: np.ndarray  # (T,) int, class index shown at each frame
    views: dict[int, View]
    color: tuple[int, int, int]  # colour of its frame (the actor's turns CUE_COLOR inside the segment)


@dataclass(frozen=True)
class BackgroundPlan:
    source: str
    start: int  # first source frame
    stride: int  # source frames per video frame (footage loops back and forth)
    crop_size: tuple[int, int]  # (w, h) in pixels of the scaled source
    crop_xy: np.ndarray  # (T, 2) int, top-left of the crop per frame (the camera pans)
    flip: bool


@dataclass(frozen=True)
class VideoPlan:
    """Everything about one video except its pixel noise (drawn while rendering from ``noise_key``)."""

    config: BenchmarkConfig
    label: int
    video_index: int
    stem: str
    split: str
    segment: tuple[int, int]  # [sf, ef) in frames
    actor: ObjectPlan
    distractors: tuple[ObjectPlan, ...]
    background: BackgroundPlan
    ring: int
    noise_key: tuple[int, ...]

    @property
    def class_name(self) -> str:
        return class_names(self.config.classes)[self.label]

    @property
    def video_id(self) -> str:
        return f"{self.class_name}/{self.stem}"

    def box(self, frame: int) -> tuple[int, int, int, int]:
        """The actor's box (x, y, w, h) in pixels at ``frame``: its content rectangle plus the cue ring."""
        x, y = (int(v) for v in self.actor.xy[frame])
        w, h = self.actor.size
        return x - self.ring, y - self.ring, w + 2 * self.ring, h + 2 * self.ring

    def boxes(self) -> np.ndarray:
        """(ef - sf, 4) uint16 boxes x, y, w, h over the segment, UCF101-24 style."""
        sf, ef = self.segment
        return np.array([self.box(f) for f in range(sf, ef)], dtype=np.uint16)

    def in_segment(self, frame: int) -> bool:
        return self.segment[0] <= frame < self.segment[1]


def split_of(config: BenchmarkConfig, label: int) -> list[str]:
    """Split of each video of class ``label``: a seeded shuffle, round(train_fraction * n) of them train."""
    n = config.videos_per_class
    n_train = min(n - 1, max(1, round(config.train_fraction * n)))
    order = rng(config.seed, label, 0, _SPLIT).permutation(n)
    splits = ["test"] * n
    for i in order[:n_train]:
        splits[int(i)] = "train"
    return splits


def plan_video(config: BenchmarkConfig, label: int, video_index: int, split: str | None = None) -> VideoPlan:
    """The plan of video ``video_index`` of class ``label``."""
    seed, t = config.seed, config.frames
    key = (label, video_index)
    ring = ring_width(config)

    seg_rng = rng(seed, *key, _SEGMENT)
    length = round(seg_rng.uniform(config.segment_min, config.segment_max) * t)
    length = min(t, max(2, length))
    sf = int(seg_rng.integers(0, t - length + 1))
    segment = (sf, sf + length)

    actor_rng = rng(seed, *key, _ACTOR)
    other = int(actor_rng.integers(0, config.classes - 1))
    other += other >= label  # a class other than the true one, uniformly
    shows = np.full(t, other, dtype=np.int64)
    shows[segment[0] : segment[1]] = label
    actor = _object(config, actor_rng, shows, ring)

    # The distractors' class mix of this video: a Dirichlet draw, so a few classes (maybe the true one) crowd it.
    mix = rng(seed, *key, _MIX).dirichlet(np.full(config.classes, config.concentration))
    mix = (mix + 1e-9) / (mix + 1e-9).sum()
    distractors = []
    for d in range(config.distractors):
        d_rng = rng(seed, *key, _DISTRACTOR, d)
        first = int(d_rng.choice(config.classes, p=mix))
        shows = np.full(t, first, dtype=np.int64)
        if d_rng.random() < config.switch_prob:
            rest = mix.copy()
            rest[first] = 0.0
            second = int(d_rng.choice(config.classes, p=rest / rest.sum()))
            at = int(d_rng.integers(round(0.15 * t), round(0.85 * t) + 1))
            shows[at:] = second
        distractors.append(_object(config, d_rng, shows, ring))

    return VideoPlan(
        config=config,
        label=label,
        video_index=video_index,
        stem=video_stem(class_names(config.classes)[label], video_index),
        split=split if split is not None else split_of(config, label)[video_index],
        segment=segment,
        actor=actor,
        distractors=tuple(distractors),
        background=_background(config, rng(seed, *key, _BACKGROUND)),
        ring=ring,
        noise_key=(*key, _NOISE),
    )


def _object(config: BenchmarkConfig, r: np.random.Generator, shows: np.ndarray, ring: int) -> ObjectPlan:
    side = config.object_size * min(config.width, config.height) * r.uniform(0.85, 1.15)
    aspect = math.exp(r.uniform(-0.15, 0.15))
    w, h = round(side * math.sqrt(aspect)), round(side / math.sqrt(aspect))
    xy = _path(config, r, (w, h), ring)
    views = {}
    for c in sorted(set(int(v) for v in shows)):
        radius = r.uniform(*WINDOW_RADIUS)
        views[c] = View(
            centre0=(float(r.uniform(0, 1)), float(r.uniform(0, 1))),
            drift=(float(r.uniform(-1, 1) * WINDOW_DRIFT), float(r.uniform(-1, 1) * WINDOW_DRIFT)),
            radius=float(radius),
            flip=bool(r.random() < 0.5),
        )
    color = FRAME_COLORS[int(r.integers(0, len(FRAME_COLORS)))]
    return ObjectPlan(xy=xy, size=(w, h), shows=shows, views=views, color=color)


def _path(config: BenchmarkConfig, r: np.random.Generator, size: tuple[int, int], ring: int) -> np.ndarray:
    """A smooth wandering path that bounces off the frame border, keeping the object and its ring inside."""
    low = np.array([ring, ring], dtype=np.float64)
    high = np.array([config.width - size[0] - ring, config.height - size[1] - ring], dtype=np.float64)
    pos = r.uniform(low, high)
    speed = r.uniform(*SPEED) * min(config.width, config.height) / config.fps
    angle = r.uniform(0, 2 * math.pi)
    turns = r.normal(0.0, 0.15, size=config.frames)
    out = np.empty((config.frames, 2), dtype=np.int64)
    for f in range(config.frames):
        out[f] = np.rint(pos)
        angle += turns[f]
        pos = pos + speed * np.array([math.cos(angle), math.sin(angle)])
        for axis in (0, 1):
            if pos[axis] < low[axis]:
                pos[axis] = min(2 * low[axis] - pos[axis], high[axis])
            elif pos[axis] > high[axis]:
                pos[axis] = max(2 * high[axis] - pos[axis], low[axis])
            else:
                continue
            angle = math.pi - angle if axis == 0 else -angle
    return out


def _background(config: BenchmarkConfig, r: np.random.Generator) -> BackgroundPlan:
    source = BACKGROUNDS[int(r.integers(0, len(BACKGROUNDS)))]
    short = background_short(config)
    n, sh, sw = background_shape(source, short)
    zoom = r.uniform(*ZOOM)
    k = short / max(config.width, config.height) / zoom
    cw, ch = min(sw, round(config.width * k)), min(sh, round(config.height * k))
    start = np.array([r.uniform(0, sw - cw), r.uniform(0, sh - ch)])
    end = np.clip(start + r.uniform(-PAN, PAN, size=2) * short, 0, [sw - cw, sh - ch])
    steps = np.linspace(0.0, 1.0, config.frames)[:, None]
    crop_xy = np.rint(start + (end - start) * steps).astype(np.int64)
    return BackgroundPlan(
        source=source,
        start=int(r.integers(0, n)),
        stride=int(r.integers(1, 3)) if source in FOOTAGE else 0,
        crop_size=(cw, ch),
        crop_xy=crop_xy,
        flip=bool(r.random() < 0.5),
    )
