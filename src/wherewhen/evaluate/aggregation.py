"""Clip -> video class probabilities, and how a clip's frames are combined.

Video level (every method): ``p(video) = 1/N sum_n p(clip_n)`` over the N evaluated clips.

Clip level, from the per-frame probabilities ``p_t = softmax(frame_logits_t)`` (T frames, C classes):

- ``model``:     ``softmax(logits)``, the model's own video output (what it was trained with).
- ``mean``:      ``1/T sum_t p_t``.
- ``mode``:      majority vote of the frames' top-1 classes, ties broken by the mean probability:
                 ``(votes_c + mean_c) / (T + 1)``. Vote counts are integers and mean probabilities lie in [0, 1),
                 so the ranking is by votes first, then by mean; the vector still sums to 1.
- ``attention``: ``sum_t w_t p_t`` with the model's temporal weights ``w`` (sum to 1).

A model without frame logits has no frames to combine: every method then falls back to ``model``, and
:func:`describe_aggregation` says so in the printed protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from wherewhen.errors import ConfigError
from wherewhen.evaluate.predict import ClipOutput, VideoPrediction

Aggregation = Literal["model", "mean", "mode", "attention"]
AGGREGATIONS: tuple[str, ...] = ("model", "mean", "mode", "attention")


def check_aggregation(method: str) -> None:
    if method not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {method!r}; use one of {', '.join(AGGREGATIONS)}")


def aggregate_frames(frame_probabilities: np.ndarray, method: str, weights: np.ndarray | None = None) -> np.ndarray:
    """(T, C) per-frame probabilities -> (C,) clip probabilities by ``mean``, ``mode`` or ``attention``."""
    p = np.asarray(frame_probabilities, dtype=np.float64)
    if method == "mean":
        return p.mean(axis=0)
    if method == "mode":
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)
        return (votes + p.mean(axis=0)) / (p.shape[0] + 1)
    if method == "attention":
        if weights is None:
            raise ConfigError("attention aggregation needs temporal weights")
        w = np.asarray(weights, dtype=np.float64)
        return (w[:, None] * p).sum(axis=0) / w.sum()
    check_aggregation(method)
    raise ConfigError(f"aggregation {method!r} does not combine frames")


def clip_probabilities(clip: ClipOutput, method: str) -> np.ndarray:
    """(C,) class probabilities of one clip by ``method`` (``model`` when the clip has no frame probabilities)."""
    check_aggregation(method)
    if method == "model" or clip.frame_probabilities is None:
        return np.asarray(clip.probabilities, dtype=np.float64)
    return aggregate_frames(clip.frame_probabilities, method, clip.temporal)


def video_probabilities(prediction: VideoPrediction, method: str = "model") -> np.ndarray:
    """(C,) the mean over the video's clips of the clip probabilities."""
    return np.mean([clip_probabilities(c, method) for c in prediction.clips], axis=0)


def probability_matrix(predictions: Sequence[VideoPrediction], method: str = "model") -> np.ndarray:
    """(V, C) video probabilities of every prediction."""
    return np.stack([video_probabilities(p, method) for p in predictions])


def describe_aggregation(predictions: Sequence[VideoPrediction], method: str) -> str:
    """One line for the printed protocol: what was averaged, and any fallback."""
    clips = [len(p.clips) for p in predictions]
    lo, hi = (min(clips), max(clips)) if clips else (0, 0)
    n = f"{lo}" if lo == hi else f"{lo}-{hi}"
    frames = {
        "model": "the model's video logits (softmax)",
        "mean": "mean of per-frame softmax",
        "mode": "majority vote of per-frame top-1 (ties: mean probability)",
        "attention": "per-frame softmax weighted by temporal attention",
    }[method]
    line = f"video probabilities = mean over {n} clip(s) per video of clip probabilities; clip = {frames}"
    if method != "model" and any(c.frame_probabilities is None for p in predictions for c in p.clips):
        line += " (the model gives no per-frame logits: its video logits were used instead)"
    return line
