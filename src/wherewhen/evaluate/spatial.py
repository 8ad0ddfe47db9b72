"""Weakly supervised spatial localization: frame-mAP over IoU thresholds and the pointing game.

Frame-AP (UCF101-24 protocol, as in the ACT detector's ``frameAP``): every evaluated frame of every video gives one
detection per class, the attention box of that frame (``boxes.attention_box``) scored with the video's
probability of that class. Per class, detections are ranked by score (ties: the frame's max-normalized temporal
weight, then grouped, see ``ap``); each detection in rank order is a true positive when its frame holds a
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
from dataclasses import dataclass
from typing import Any

import numpy as np

from wherewhen.evaluate.ap import precision_recall, rank_order, trapezoid_ap
from wherewhen.evaluate.boxes import (
    Normalize,
    Region,
    attention_box,
    attention_peak,
    box_iou,
    box_iou_matrix,
    point_in_box,
)
from wherewhen.evaluate.predict import VideoPrediction
from wherewhen.evaluate.temporal import video_timeline

FRAME_IOU_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class SpatialConfig:
    threshold: float = 0.5
    region: Region = "all"
    normalize: Normalize = "max"
    iou_thresholds: tuple[float, ...] = FRAME_IOU_THRESHOLDS
    pointing_tolerance: float = 0.0
    top_k: int | None = None  # classes per video that give detections; None: all


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
    for j in rank_order(scores, tiebreak):
        gt = remaining.get(int(frames[j]))
        if gt is None or len(gt) == 0:
            continue
        ious = box_iou_matrix(gt, boxes[j])[:, 0]
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold:
            is_tp[j] = True
            remaining[int(frames[j])] = np.delete(gt, best, axis=0)
    return is_tp


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


def has_boxes(prediction: VideoPrediction) -> bool:
    return any(b is not None for b in prediction.record.boxes)


def spatial_localization(
    predictions: Sequence[VideoPrediction],
    probabilities: np.ndarray,
    classes: Sequence[str],
    config: SpatialConfig = SpatialConfig(),
) -> dict[str, Any] | None:
    """All spatial numbers of the videos that carry boxes; None when no video in ``predictions`` does."""
    num_classes = len(classes)
    class_index = {c: i for i, c in enumerate(classes)}
    det_frames: list[list[int]] = [[] for _ in classes]
    det_scores: list[list[float]] = [[] for _ in classes]
    det_ties: list[list[float]] = [[] for _ in classes]
    det_boxes: list[list[tuple[float, ...]]] = [[] for _ in classes]
    ground_truth: list[dict[int, np.ndarray]] = [{} for _ in classes]
    peaks, peak_boxes, ious = [], [], []
    frames_without_box = 0
    videos = 0
    key = 0
    for v, pred in enumerate(predictions):
        rec = pred.record
        if not has_boxes(pred) or rec.label not in class_index:
            continue
        videos += 1
        label = class_index[rec.label]
        maps, covered = pred.spatial_maps()
        timeline = video_timeline(pred)
        timeline = timeline / timeline.max() if timeline.max() > 0 else timeline
        ranked = np.argsort(-probabilities[v], kind="stable")
        det_classes = ranked if config.top_k is None else ranked[: config.top_k]
        for row in np.flatnonzero(covered):
            key += 1
            box = attention_box(maps[row], rec.crop, rec.frame_size, config.threshold, config.region, config.normalize)
            gt = rec.boxes[row] if row < len(rec.boxes) else None
            if gt is not None:
                ground_truth[label][key] = np.asarray([gt], dtype=np.float64)
                peaks.append(attention_peak(maps[row], rec.crop))
                peak_boxes.append(gt)
                ious.append(0.0 if box is None else box_iou(box, gt))
            if box is None:
                frames_without_box += 1
                continue
            for c in det_classes:
                det_frames[c].append(key)
                det_scores[c].append(float(probabilities[v, c]))
                det_ties[c].append(float(timeline[row]))
                det_boxes[c].append(box)
    if videos == 0:
        return None
    evaluated = [c for c in range(num_classes) if ground_truth[c]]
    per_class: dict[str, dict[str, float]] = {}
    frame_map: dict[str, float] = {}
    for thr in config.iou_thresholds:
        aps = []
        for c in evaluated:
            ap = frame_average_precision(
                np.asarray(det_frames[c], dtype=np.int64),
                np.asarray(det_scores[c]),
                np.asarray(det_boxes[c]).reshape(-1, 4),
                ground_truth[c],
                thr,
                np.asarray(det_ties[c]),
            )
            per_class.setdefault(classes[c], {})[f"{thr:g}"] = ap
            aps.append(ap)
        frame_map[f"{thr:g}"] = float(np.mean(aps)) if aps else 0.0
    return {
        "videos": videos,
        "frames": key,
        "frames_with_box": len(peak_boxes),
        "frames_without_prediction": frames_without_box,
        "classes_evaluated": len(evaluated),
        "frame_map": frame_map,
        "per_class_ap": per_class,
        "pointing_game": pointing_game(peaks, peak_boxes, config.pointing_tolerance),
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
    }
