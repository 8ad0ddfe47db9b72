"""Weakly supervised temporal localization: attention weights -> segments -> THUMOS'14 mAP at tIoU 0.1..0.5.

Segments of one video (``segments_from_weights``): the timeline of temporal weights over the rows some clip
covered (the windows of an untrimmed video are merged by ``merge_windows``) is divided by its maximum; rows with
value >= threshold are kept, gaps of fewer than ``close_gaps`` rows between kept runs are filled, runs of fewer
than ``min_length`` rows are dropped. A run of rows i..j becomes seconds through the row boundaries: midpoints
between consecutive row times, the first and last row extended by half their neighbour spacing, clipped to
[0, duration].

Detections: each segment once per class (all classes, or the ``top_k`` most probable), scored with the video's
probability of that class; equal scores are ordered by the segment's mean normalized weight.

Matching and AP follow the official THUMOS'14 code (``TH14eventdetpr.m``): per video and class, detections sorted
by confidence; each ground-truth segment in turn takes the free detection of highest tIoU, which becomes a true
positive if that tIoU is strictly greater than the threshold; false positives that overlap an ``Ambiguous``
segment at all are removed; AP is the 11-point interpolated ``prap``; mAP is the mean over classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from wherewhen.evaluate.ap import TiePolicy, precision_recall, rank_order, thumos_11point_ap
from wherewhen.evaluate.predict import VideoPrediction

TIOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)
AMBIGUOUS = "Ambiguous"


Reference = Literal["max", "mean"]


@dataclass(frozen=True)
class TemporalConfig:
    """How temporal weights become segments. The default keeps the rows with at least half the video's mean weight
    (chosen on a validation draw of the embedded benchmark, docs/evaluation.md); ``paper()`` keeps those with at least
    half its largest weight."""

    threshold: float = 0.5
    reference: Reference = "mean"  # the threshold is a share of the video's mean weight, or of its largest weight
    close_gaps: int = 2  # fill gaps shorter than this many rows
    min_length: int = 2  # drop segments shorter than this many rows
    tiou_thresholds: tuple[float, ...] = TIOU_THRESHOLDS
    top_k: int | None = None  # classes per video that give detections; None: all
    ties: TiePolicy = "grouped"

    @classmethod
    def paper(cls, threshold: float = 0.5) -> TemporalConfig:
        return cls(threshold=threshold, reference="max")


def merge_windows(num_rows: int, windows: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(num_rows,) one timeline from per-window (rows, weights) pairs; each window's weights sum to 1.

    ``w * T`` is a window's ratio to uniform attention, so windows of any length are comparable. A row's value is
    the mean of that ratio over the windows covering it; rows no window covers get 0. For a single clip this is
    ``w * T``, whose max-normalization equals ``w / max(w)``.
    """
    total = np.zeros(num_rows, dtype=np.float64)
    count = np.zeros(num_rows, dtype=np.int64)
    for rows, weights in windows:
        rows = np.asarray(rows, dtype=np.int64)
        np.add.at(total, rows, np.asarray(weights, dtype=np.float64) * len(rows))
        np.add.at(count, rows, 1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def video_timeline(prediction: VideoPrediction) -> tuple[np.ndarray, np.ndarray]:
    """(T_video,) temporal weights of one video's rows (clips merged by ``merge_windows``) and the covered mask."""
    timeline = merge_windows(prediction.num_rows, [(c.rows, c.temporal) for c in prediction.clips])
    covered = np.zeros(prediction.num_rows, dtype=bool)
    for clip in prediction.clips:
        covered[clip.rows] = True
    return timeline, covered


def segments_from_weights(
    weights: np.ndarray, threshold: float = 0.5, close_gaps: int = 2, min_length: int = 2
) -> list[tuple[int, int]]:
    """Row runs (first, last inclusive) with ``weights / max(weights) >= threshold``; gaps closed, tiny runs dropped."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0 or w.max() <= 0:
        return []
    kept = (w / w.max()) >= threshold
    edges = np.diff(np.concatenate([[0], kept.astype(np.int8), [0]]))
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] - 1 < close_gaps:
            merged[-1] = (merged[-1][0], int(end))
        else:
            merged.append((int(start), int(end)))
    return [(s, e) for s, e in merged if e - s + 1 >= min_length]


def row_boundaries(times: np.ndarray, duration: float | None = None) -> np.ndarray:
    """(T + 1,) seconds: row i covers [b_i, b_{i+1}); midpoints between rows, the ends extended half a spacing."""
    t = np.asarray(times, dtype=np.float64)
    if t.size == 1:
        end = duration if duration and duration > t[0] else t[0] + 1.0
        return np.array([0.0 if duration else t[0], end])
    mid = (t[1:] + t[:-1]) / 2
    b = np.concatenate([[t[0] - (t[1] - t[0]) / 2], mid, [t[-1] + (t[-1] - t[-2]) / 2]])
    upper = duration if duration and duration > 0 else np.inf
    return np.clip(b, 0.0, upper)


def rows_to_seconds(
    segments: Sequence[tuple[int, int]], times: np.ndarray, duration: float | None = None
) -> list[tuple[float, float]]:
    b = row_boundaries(times, duration)
    return [(float(b[s]), float(b[e + 1])) for s, e in segments]


def tiou(a: Sequence[float], b: Sequence[float]) -> float:
    """Temporal intersection over union of two (start, end) intervals (0 when they only touch)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def tiou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) tIoU of intervals ``a`` (N, 2) against ``b`` (M, 2)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    hull = np.maximum(a[:, None, 1], b[None, :, 1]) - np.minimum(a[:, None, 0], b[None, :, 0])
    return np.where(inter > 0, inter / np.where(hull > 0, hull, 1.0), 0.0)


@dataclass
class SegmentDetections:
    """Detections of one class: video key, (start, end) seconds, score, tiebreak."""

    videos: list[str]
    intervals: list[tuple[float, float]]
    scores: list[float]
    tiebreak: list[float]


def match_video(
    intervals: np.ndarray, scores: np.ndarray, tiebreak: np.ndarray, ground_truth: np.ndarray, threshold: float
) -> np.ndarray:
    """(N,) True positives of one video and class, by the official THUMOS'14 ground-truth-driven matching."""
    is_tp = np.zeros(len(intervals), dtype=bool)
    if len(intervals) == 0 or len(ground_truth) == 0:
        return is_tp
    order = rank_order(scores, tiebreak)
    ov = tiou_matrix(ground_truth, intervals[order])
    free = np.ones(len(order), dtype=bool)
    for k in range(len(ground_truth)):
        candidates = np.flatnonzero(free)
        if len(candidates) == 0:
            break
        best = candidates[int(np.argmax(ov[k, candidates]))]
        if ov[k, best] > threshold:
            free[best] = False
    is_tp[order[~free]] = True
    return is_tp


def temporal_average_precision(
    detections: SegmentDetections,
    ground_truth: dict[str, np.ndarray],
    threshold: float,
    ambiguous: dict[str, np.ndarray] | None = None,
    ties: TiePolicy = "grouped",
) -> float:
    """THUMOS'14 AP of one class: detections against {video: (M, 2) segments}, ``ambiguous`` {video: (A, 2)}."""
    num_positives = sum(len(v) for v in ground_truth.values())
    if num_positives == 0:
        return 0.0
    videos = np.asarray(detections.videos)
    intervals = np.asarray(detections.intervals, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(detections.scores, dtype=np.float64)
    tiebreak = np.asarray(detections.tiebreak, dtype=np.float64)
    is_tp = np.zeros(len(scores), dtype=bool)
    keep = np.ones(len(scores), dtype=bool)
    names, video_of = np.unique(videos, return_inverse=True) if len(videos) else (np.zeros(0), np.zeros(0, int))
    by_video = np.argsort(video_of, kind="stable")
    bounds = np.searchsorted(video_of[by_video], np.arange(len(names) + 1))
    for n, video in enumerate(names):
        idx = by_video[bounds[n] : bounds[n + 1]]
        gt = ground_truth.get(str(video), np.zeros((0, 2)))
        is_tp[idx] = match_video(intervals[idx], scores[idx], tiebreak[idx], gt, threshold)
        amb = (ambiguous or {}).get(str(video))
        if amb is not None and len(amb):
            touches = (tiou_matrix(amb, intervals[idx]) > 0).any(axis=0)
            keep[idx] = ~(touches & ~is_tp[idx])
    pr = precision_recall(scores[keep], is_tp[keep], num_positives, tiebreak[keep], ties=ties)
    return thumos_11point_ap(pr)


def has_segments(prediction: VideoPrediction) -> bool:
    return len(prediction.record.segments) > 0


def video_segments(prediction: VideoPrediction, config: TemporalConfig) -> list[tuple[float, float, float]]:
    """(start s, end s, mean normalized weight) of every predicted segment of one video.

    Only the rows some clip covered count: when clips take T of a video's rows, gaps and lengths are measured in
    those rows and boundaries are midpoints between them.
    """
    timeline, covered = video_timeline(prediction)
    rows = np.flatnonzero(covered)
    if len(rows) == 0 or timeline[rows].max() <= 0:
        return []
    norm = timeline[rows] / timeline[rows].max()
    # segments_from_weights divides by the maximum itself: relative to the mean, scale the threshold by mean / max
    threshold = config.threshold * (float(norm.mean()) if config.reference == "mean" else 1.0)
    runs = segments_from_weights(norm, threshold, config.close_gaps, config.min_length)
    seconds = rows_to_seconds(runs, prediction.times[rows], prediction.record.duration)
    return [(s, e, float(norm[a : b + 1].mean())) for (s, e), (a, b) in zip(seconds, runs, strict=True)]


def temporal_localization(
    predictions: Sequence[VideoPrediction],
    probabilities: np.ndarray,
    classes: Sequence[str],
    config: TemporalConfig = TemporalConfig(),
) -> dict[str, Any] | None:
    """All temporal numbers of the videos that carry segments; None when no video in ``predictions`` does."""
    class_index = {c: i for i, c in enumerate(classes)}
    detections = [SegmentDetections([], [], [], []) for _ in classes]
    gt: list[dict[str, list[tuple[float, float]]]] = [{} for _ in classes]
    ambiguous: dict[str, list[tuple[float, float]]] = {}
    videos = ignored = num_segments = 0
    for v, pred in enumerate(predictions):
        if not has_segments(pred):
            continue
        videos += 1
        key = pred.record.video_id
        for start, end, label in pred.record.segments:
            label = label if label is not None else pred.record.label
            if label == AMBIGUOUS:
                ambiguous.setdefault(key, []).append((start, end))
            elif label in class_index:
                gt[class_index[label]].setdefault(key, []).append((start, end))
            else:
                ignored += 1
        segments = video_segments(pred, config)
        num_segments += len(segments)
        ranked = np.argsort(-probabilities[v], kind="stable")
        for c in ranked if config.top_k is None else ranked[: config.top_k]:
            for start, end, weight in segments:
                detections[c].videos.append(key)
                detections[c].intervals.append((start, end))
                detections[c].scores.append(float(probabilities[v, c]))
                detections[c].tiebreak.append(weight)
    if videos == 0:
        return None
    amb = {k: np.asarray(v) for k, v in ambiguous.items()}
    evaluated = [c for c in range(len(classes)) if gt[c]]
    t_map: dict[str, float] = {}
    per_class: dict[str, dict[str, float]] = {}
    for thr in config.tiou_thresholds:
        aps = []
        for c in evaluated:
            ground = {k: np.asarray(v, dtype=np.float64) for k, v in gt[c].items()}
            ap = temporal_average_precision(detections[c], ground, thr, amb, config.ties)
            per_class.setdefault(classes[c], {})[f"{thr:g}"] = ap
            aps.append(ap)
        t_map[f"{thr:g}"] = float(np.mean(aps)) if aps else 0.0
    return {
        "videos": videos,
        "ground_truth_segments": sum(len(s) for g in gt for s in g.values()),
        "ambiguous_segments": sum(len(v) for v in ambiguous.values()),
        "ignored_segments": ignored,
        "predicted_segments": num_segments,
        "classes_evaluated": len(evaluated),
        "map": t_map,
        "per_class_ap": per_class,
    }
