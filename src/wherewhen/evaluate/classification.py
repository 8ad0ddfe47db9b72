"""Video-level classification metrics: top-k accuracy, mean class accuracy, confusion matrix, per-class rows.

``top-k = 1/V sum_v [y_v in the k highest-probability classes of video v]`` (ties: the lower class index ranks
first). ``mean class accuracy = 1/|C'| sum_{c in C'} M[c, c] / sum_j M[c, j]`` over the classes C' that have at
least one video in the split, with ``M[true, predicted]`` the confusion matrix of top-1 predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def ranked_classes(probabilities: np.ndarray) -> np.ndarray:
    """(V, C) class indices of every video from most to least probable; stable, so ties keep index order."""
    return np.argsort(-np.asarray(probabilities, dtype=np.float64), axis=1, kind="stable")


def topk_hits(probabilities: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """(V,) True where the target is among the k most probable classes."""
    top = ranked_classes(probabilities)[:, :k]
    return (top == np.asarray(targets)[:, None]).any(axis=1)


def topk_accuracy(probabilities: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    hits = topk_hits(probabilities, targets, k)
    return float(hits.mean()) if len(hits) else 0.0


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts with rows = true class, columns = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(targets, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return m


def class_accuracies(confusion: np.ndarray) -> np.ndarray:
    """(C,) recall of every class; NaN for classes without videos."""
    support = confusion.sum(axis=1).astype(np.float64)
    diag = np.diag(confusion).astype(np.float64)
    return np.divide(diag, support, out=np.full_like(diag, np.nan), where=support > 0)


def mean_class_accuracy(confusion: np.ndarray) -> float:
    acc = class_accuracies(confusion)
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else 0.0


@dataclass
class ClassificationResult:
    classes: list[str]
    top1: float
    top5: float
    mean_class_accuracy: float
    confusion: np.ndarray
    per_class: list[dict[str, Any]]
    num_videos: int

    def to_json(self) -> dict[str, Any]:
        return {
            "videos": self.num_videos,
            "top1": self.top1,
            "top5": self.top5,
            "mean_class_accuracy": self.mean_class_accuracy,
            "per_class": self.per_class,
            "confusion": self.confusion.tolist(),
        }


def per_class_rows(
    confusion: np.ndarray, classes: Sequence[str], top5_hits: np.ndarray, targets: np.ndarray
) -> list[dict[str, Any]]:
    """One row per class: videos, top-1 correct and accuracy, top-5 accuracy, the most frequent wrong prediction."""
    acc = class_accuracies(confusion)
    rows = []
    for c, name in enumerate(classes):
        support = int(confusion[c].sum())
        off = confusion[c].copy()
        off[c] = 0
        confused = classes[int(off.argmax())] if off.sum() > 0 else None
        in_class = np.asarray(targets) == c
        rows.append(
            {
                "class": name,
                "videos": support,
                "correct": int(confusion[c, c]),
                "top1": None if support == 0 else float(acc[c]),
                "top5": None if support == 0 else float(top5_hits[in_class].mean()),
                "most_confused_with": confused,
                "confused_count": int(off.max()) if confused else 0,
            }
        )
    return rows


def classify(probabilities: np.ndarray, targets: np.ndarray, classes: Sequence[str]) -> ClassificationResult:
    """All classification numbers from (V, C) video probabilities and (V,) class indices."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(targets), len(classes))
    targets = np.asarray(targets, dtype=np.int64)
    predictions = ranked_classes(probabilities)[:, 0] if len(targets) else np.zeros(0, dtype=np.int64)
    confusion = confusion_matrix(targets, predictions, len(classes))
    top5 = topk_hits(probabilities, targets, min(5, len(classes)))
    return ClassificationResult(
        classes=list(classes),
        top1=topk_accuracy(probabilities, targets, 1),
        top5=float(top5.mean()) if len(top5) else 0.0,
        mean_class_accuracy=mean_class_accuracy(confusion),
        confusion=confusion,
        per_class=per_class_rows(confusion, classes, top5, targets),
        num_videos=len(targets),
    )
