"""Pixels of a planned video: footage with camera motion, objects showing class photos, the cue ring, noise."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import cv2
import numpy as np

from wherewhen.datasets.benchmark.plan import (
    CUE_COLOR,
    BackgroundPlan,
    ObjectPlan,
    VideoPlan,
    background_short,
    class_photo_short,
    rng,
)
from wherewhen.datasets.benchmark.sources import background, class_photo


@lru_cache(maxsize=256)
def _rounded_mask(w: int, h: int, radius: int) -> np.ndarray:
    """Boolean (h, w) mask of a rectangle with rounded corners."""
    mask = np.zeros((h, w), dtype=np.uint8)
    r = max(0, min(radius, w // 2, h // 2))
    cv2.rectangle(mask, (r, 0), (w - 1 - r, h - 1), 1, thickness=-1)
    cv2.rectangle(mask, (0, r), (w - 1, h - 1 - r), 1, thickness=-1)
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
        cv2.circle(mask, (cx, cy), r, 1, thickness=-1)
    return mask.astype(bool)


def _reflect(value: float, low: float, high: float) -> float:
    """Fold ``value`` back into [low, high] like a ball between two walls."""
    if high <= low:
        return (low + high) / 2
    span = high - low
    v = (value - low) % (2 * span)
    return low + (v if v <= span else 2 * span - v)


def _background_frame(plan: BackgroundPlan, frames: np.ndarray, t: int, size: tuple[int, int]) -> np.ndarray:
    n = len(frames)
    if n == 1:
        source = frames[0]
    else:
        i = plan.start + plan.stride * t
        period = 2 * (n - 1)
        i %= period
        source = frames[i if i < n else period - i]  # play forward, then backward, and so on
    x, y = (int(v) for v in plan.crop_xy[t])
    cw, ch = plan.crop_size
    crop = source[y : y + ch, x : x + cw]
    if plan.flip:
        crop = crop[:, ::-1]
    interpolation = cv2.INTER_AREA if cw > size[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), size, interpolation=interpolation)


def _object_patch(obj: ObjectPlan, t: int, photo_short: int) -> np.ndarray:
    """The (h, w, 3) crop of the shown class's photo at frame ``t``."""
    label = int(obj.shows[t])
    view = obj.views[label]
    w, h = obj.size
    photo = class_photo(label, photo_short)
    ph, pw = photo.shape[:2]
    half_h = view.radius * min(ph, pw)
    half_w = half_h * w / h
    half_w = min(half_w, pw / 2 - 1)
    half_h = min(half_h, ph / 2 - 1)
    cx = _reflect(view.centre0[0] * pw + view.drift[0] * min(ph, pw) * t, half_w, pw - half_w)
    cy = _reflect(view.centre0[1] * ph + view.drift[1] * min(ph, pw) * t, half_h, ph - half_h)
    x0, y0 = round(cx - half_w), round(cy - half_h)
    x1, y1 = round(cx + half_w), round(cy + half_h)
    crop = photo[y0:y1, x0:x1]
    if view.flip:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA)


def _paste(frame: np.ndarray, obj: ObjectPlan, t: int, ring: int, cue: bool, photo_short: int) -> None:
    x, y = (int(v) for v in obj.xy[t])
    w, h = obj.size
    radius = max(2, min(w, h) // 6)
    outer = _rounded_mask(w + 2 * ring, h + 2 * ring, radius + ring)
    frame[y - ring : y + h + ring, x - ring : x + w + ring][outer] = CUE_COLOR if cue else obj.color
    mask = _rounded_mask(w, h, radius)
    frame[y : y + h, x : x + w][mask] = _object_patch(obj, t, photo_short)[mask]


def render_frames(plan: VideoPlan, *, cue: bool = True, noise: bool = True) -> Iterator[np.ndarray]:
    """Yield the video's frames, (H, W, 3) uint8 RGB.

    ``cue=False`` keeps the actor's frame in its own colour inside the segment and ``noise=False`` leaves out the
    pixel noise (tests use both to find exactly
    which pixels the cue and the objects change).
    """
    config = plan.config
    size = (config.width, config.height)
    frames = background(plan.background.source, background_short(config))
    short = class_photo_short(config)
    noise_rng = rng(config.seed, *plan.noise_key)
    for t in range(config.frames):
        frame = _background_frame(plan.background, frames, t, size)
        for obj in plan.distractors:
            _paste(frame, obj, t, plan.ring, False, short)
        # The actor is drawn last, so no distractor ever hides it.
        _paste(frame, plan.actor, t, plan.ring, cue and plan.in_segment(t), short)
        if noise and config.noise > 0:
            jitter = noise_rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(config.noise)
            frame = np.clip(frame + jitter, 0, 255).astype(np.uint8)
        yield frame
