"""Weakly supervised spatial localization: frame-mAP over IoU thresholds and the pointing game.

Frame-AP (UCF101-24 protocol, as in the ACT detector's ``frameAP``): every evaluated frame of every video gives one
detection per class, the attention box of that frame (``boxes.attention_box``) scored with the video's
probability of that class. Per class, detections are ranked by score (ties: the frame's max-normalized temporal
weight, then grouped, see ``ap``; ``frame_score`` other than ``"video"`` multiplies that probability by the
frame's actionness from its temporal weight, as action detectors score a frame by class and actionness:
``frame_actionness``); each detection in rank order is a true positive when its frame holds a
not-yet-matched ground-truth box of that class with IoU >= threshold (the best-IoU one is consumed). AP is the
trapezoid area under the precision-recall curve from (0, 1); frame-mAP is the mean over the classes that have
ground-truth boxes in the evaluated frames.

Pointing game (Zhang et al., 2016): over the evaluated frames that have a ground-truth box, the fraction whose
attention peak (``boxes.attention_peak``) lies in the box grown by ``pointing_tolerance`` pixels (0 by default;
Zhang et al. use 15).

Evaluated frames: the cube rows covered by at least one clip, of the videos that carry at least one box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from wherewhen.errors import ConfigError
from wherewhen.evaluate.ap import precision_recall, rank_order, trapezoid_ap
from wherewhen.evaluate.boxes import (
    Normalize,
    Peak,
    Region,
    attention_boxes,
    attention_peaks,
    box_iou,
    box_iou_matrix,
    point_in_box,
)
from wherewhen.evaluate.predict import VideoPrediction
from wherewhen.evaluate.temporal import video_timeline
from wherewhen.models.base import VideoModel

FRAME_IOU_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)


FrameScore = Literal["video", "temporal", "above_mean"]


@dataclass(frozen=True)
class SpatialConfig:
    """How maps become boxes, peaks and detection scores. The defaults are the weakly supervised localization
    practice (chosen on a validation draw of the embedded benchmark, docs/evaluation.md); ``paper()`` is the rule
    of "Where and When to Look?": every cell >= 0.5 of the peak, whole cells, the peak cell's centre, the video's
    class probability as the score."""

    threshold: float | None = None  # share of the map's peak a box keeps; None: the model's box_threshold
    region: Region = "peak"
    normalize: Normalize = "max"
    upsample: int = 4  # the map is resized bilinearly by this factor before thresholding (boxes.upsampled)
    peak: Peak = "centroid"  # where a map peaks for the pointing game (boxes.attention_peaks)
    frame_score: FrameScore = "above_mean"  # the class probability times the frame's actionness (frame_actionness)
    iou_thresholds: tuple[float, ...] = FRAME_IOU_THRESHOLDS
    pointing_tolerance: float = 0.0
    top_k: int | None = None  # classes per video that give detections; None: all

    @classmethod
    def paper(cls, threshold: float = 0.5) -> SpatialConfig:
        return cls(threshold=threshold, region="all", upsample=1, peak="cell", frame_score="video")

    @property
    def box_threshold(self) -> float:
        """The threshold boxes use: the set one, else the models' default (``VideoModel.box_threshold``)."""
        return VideoModel.box_threshold if self.threshold is None else self.threshold

    def for_model(self, model: object) -> SpatialConfig:
        """This config with ``model``'s box threshold where none is set."""
        if self.threshold is not None:
            return self
        return replace(self, threshold=float(getattr(model, "box_threshold", VideoModel.box_threshold)))


def match_frame_detections(
    frames: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    ground_truth: dict[int, np.ndarray],
    iou_threshold: float,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """(N,) True for the detections that match a ground-truth box of their frame, greedily in rank order."""
    remaining = {k: np.asarray(v, dtype=np.float64).reshape(-1, 4) for k, v in ground_truth.items()}
    is_tp = np.zeros(len(frames), dtype=bool)
    order = rank_order(scores, tiebreak)
    if all(len(v) == 1 for v in remaining.values()):
        # One box per frame (the usual case): the first detection in rank order with IoU >= threshold takes it.
        ranked = frames[order]
        gt_keys = np.array(sorted(remaining), dtype=np.int64)
        gt_boxes = np.array([remaining[int(k)][0] for k in gt_keys]).reshape(-1, 4)
        pos = np.clip(np.searchsorted(gt_keys, ranked), 0, max(len(gt_keys) - 1, 0))
        has_gt = gt_keys[pos] == ranked if len(gt_keys) else np.zeros(len(ranked), dtype=bool)
        matched_gt = gt_boxes[pos] if len(gt_keys) else np.zeros((len(ranked), 4))
        iou = _paired_iou(matched_gt, np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[order])
        hits = np.flatnonzero(has_gt & (iou >= iou_threshold))
        _, first = np.unique(ranked[hits], return_index=True)
        is_tp[order[hits[first]]] = True
        return is_tp
    for j in order:
        gt = remaining.get(int(frames[j]))
        if gt is None or len(gt) == 0:
            continue
        ious = box_iou_matrix(gt, boxes[j])[:, 0]
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold:
            is_tp[j] = True
            remaining[int(frames[j])] = np.delete(gt, best, axis=0)
    return is_tp


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) IoU of a[i] with b[i]; 0 where a box is empty."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def frame_average_precision(
    frames: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    ground_truth: dict[int, np.ndarray],
    iou_threshold: float,
    tiebreak: np.ndarray | None = None,
) -> float:
    """Frame-AP of one class: detections (frame key, score, box) against {frame key: (M, 4) boxes}."""
    frames = np.asarray(frames, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    num_positives = sum(len(np.asarray(v).reshape(-1, 4)) for v in ground_truth.values())
    is_tp = match_frame_detections(frames, scores, boxes, ground_truth, iou_threshold, tiebreak)
    return trapezoid_ap(precision_recall(scores, is_tp, num_positives, tiebreak, ties="grouped"))


def pointing_game(
    peaks: Sequence[tuple[float, float]], boxes: Sequence[Sequence[float]], tolerance: float = 0.0
) -> float:
    """Fraction of frames whose attention peak lies in the ground-truth box (grown by ``tolerance`` pixels)."""
    if len(peaks) == 0:
        return 0.0
    return float(np.mean([point_in_box(p, b, tolerance) for p, b in zip(peaks, boxes, strict=True)]))


def frame_actionness(weights: np.ndarray, frame_score: FrameScore) -> np.ndarray:
    """The factor of each frame's detection score: 1 (``"video"``), weight / max (``"temporal"``), or
    min(1, weight / mean) (``"above_mean"``: every frame that gets more than its uniform share counts fully)."""
    w = np.asarray(weights, dtype=np.float64)
    if frame_score == "video" or w.size == 0 or w.max() <= 0:
        return np.ones_like(w)
    if frame_score == "temporal":
        return w / w.max()
    if frame_score == "above_mean":
        return np.minimum(1.0, w / w.mean())
    raise ConfigError(f"unknown frame score {frame_score!r}; use 'video', 'temporal' or 'above_mean'")


def has_boxes(prediction: VideoPrediction) -> bool:
    return any(b is not None for b in prediction.record.boxes)


@dataclass
class FrameDetections:
    """The evaluated frames of every video with boxes: one detection box each, its score factor and tiebreak, the
    video it belongs to; the ground truth per class by frame key; the pointing game's peaks."""

    num_classes: int
    keys: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    ties: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    owner: list[np.ndarray] = field(default_factory=list)
    ground_truth: list[dict[int, np.ndarray]] = field(default_factory=list)
    peaks: list[tuple[float, float]] = field(default_factory=list)
    peak_boxes: list[Any] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)
    next_key: int = 0

    def __post_init__(self) -> None:
        self.ground_truth = [{} for _ in range(self.num_classes)]

    def add_video(self, video: int, pred: VideoPrediction, label: int, config: SpatialConfig) -> None:
        rec = pred.record
        maps, covered = pred.spatial_maps()
        rows = np.flatnonzero(covered)
        timeline, _ = video_timeline(pred)
        frame_boxes = attention_boxes(
            maps[rows], rec.crop, rec.frame_size, config.box_threshold, config.region, config.normalize, config.upsample
        )
        frame_peaks = attention_peaks(maps[rows], rec.crop, config.peak)
        frame_keys = self.next_key + np.arange(len(rows))
        self.next_key += len(rows)
        for i, row in enumerate(rows):
            gt = rec.boxes[row] if row < len(rec.boxes) else None
            if gt is None:
                continue
            self.ground_truth[label][int(frame_keys[i])] = np.asarray([gt], dtype=np.float64)
            self.peaks.append(tuple(frame_peaks[i]))
            self.peak_boxes.append(gt)
            self.ious.append(0.0 if np.isnan(frame_boxes[i]).any() else box_iou(frame_boxes[i], gt))
        self.keys.append(frame_keys)
        self.boxes.append(frame_boxes)
        self.actions.append(frame_actionness(timeline[rows], config.frame_score))
        self.ties.append(timeline[rows] / timeline.max() if timeline.max() > 0 else timeline[rows])
        self.owner.append(np.full(len(rows), video))


def frame_maps(
    det: FrameDetections, probabilities: np.ndarray, classes: Sequence[str], config: SpatialConfig
) -> tuple[dict[str, float], dict[str, dict[str, float]], list[int]]:
    """(frame-mAP by IoU threshold, per-class AP, the classes evaluated)."""
    keys, boxes, ties = np.concatenate(det.keys), np.concatenate(det.boxes), np.concatenate(det.ties)
    owner, actions = np.concatenate(det.owner), np.concatenate(det.actions)
    has_box = ~np.isnan(boxes).any(axis=1)
    reports = np.ones(probabilities.shape, dtype=bool)  # which classes each video reports: all, or its top_k
    if config.top_k is not None:
        ranked = np.argsort(-probabilities, axis=1, kind="stable")
        reports[:] = False
        np.put_along_axis(reports, ranked[:, : config.top_k], True, axis=1)
    evaluated = [c for c in range(len(classes)) if det.ground_truth[c]]
    per_class: dict[str, dict[str, float]] = {}
    frame_map: dict[str, float] = {}
    for thr in config.iou_thresholds:
        aps = []
        for c in evaluated:
            sel = has_box & reports[owner, c]
            scores = probabilities[owner[sel], c] * actions[sel]
            ap = frame_average_precision(keys[sel], scores, boxes[sel], det.ground_truth[c], thr, ties[sel])
            per_class.setdefault(classes[c], {})[f"{thr:g}"] = ap
            aps.append(ap)
        frame_map[f"{thr:g}"] = float(np.mean(aps)) if aps else 0.0
    return frame_map, per_class, evaluated


def spatial_localization(
    predictions: Sequence[VideoPrediction],
    probabilities: np.ndarray,
    classes: Sequence[str],
    config: SpatialConfig = SpatialConfig(),
) -> dict[str, Any] | None:
    """All spatial numbers of the videos that carry boxes; None when no video in ``predictions`` does."""
    class_index = {c: i for i, c in enumerate(classes)}
    det = FrameDetections(len(classes))
    videos = 0
    for v, pred in enumerate(predictions):
        if has_boxes(pred) and pred.record.label in class_index:
            det.add_video(v, pred, class_index[pred.record.label], config)
            videos += 1
    if not videos:
        return None
    frame_map, per_class, evaluated = frame_maps(det, probabilities, classes, config)
    frames = int(sum(len(k) for k in det.keys))
    return {
        "videos": videos,
        "frames": frames,
        "frames_with_ground_truth": len(det.peak_boxes),
        "frames_without_prediction": int(sum(np.isnan(b).any(axis=1).sum() for b in det.boxes)),
        "classes_evaluated": len(evaluated),
        "frame_map": frame_map,
        "per_class_ap": per_class,
        "pointing_game": pointing_game(det.peaks, det.peak_boxes, config.pointing_tolerance),
        "mean_iou": float(np.mean(det.ious)) if det.ious else 0.0,
    }
