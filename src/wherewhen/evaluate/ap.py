"""Precision / recall over a ranked detection list and the average-precision variants the protocols use.

Detections are ranked by ``score`` (descending), then by ``tiebreak`` (descending). Two tie policies:

- ``"grouped"``: detections with exactly equal (score, tiebreak) form one block whose internal order is unknown;
  a precision / recall point exists only at the end of each block, so the result never depends on how equal
  scores happen to be ordered. Used by default.
- ``"true_positives_first"``: inside a block, true positives rank before false positives. This is what the
  official THUMOS'14 code does (it lists true positives before false positives and then sorts stably by
  confidence); it is optimistic when scores tie.

AP variants (``P_i``, ``R_i`` the precision and recall at the i-th point, ``n_pos`` the ground-truth count):

- ``thumos_11point``: the official THUMOS'14 ``prap``: ``AP = 1/11 sum_{t in 0, 0.1, ..., 1} max_{i: R_i >= t} P_i``
  (0 where no point reaches recall t).
- ``trapezoid``: the frame-AP of the UCF101-24 evaluation code of the ACT detector (Kalogeiton et al., 2017):
  the area under the precision-recall polyline that starts at (R=0, P=1), by the trapezoid rule.
- ``raw_area``: the non-interpolated AP, ``AP = 1/n_pos sum_{i: detection i is a TP} P_i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

TiePolicy = Literal["grouped", "true_positives_first"]


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision and recall at each point of the ranked list, plus what a raw-area AP needs."""

    precision: np.ndarray
    recall: np.ndarray
    tp_at_point: np.ndarray  # true positives added since the previous point
    num_positives: int


def rank_order(scores: np.ndarray, tiebreak: np.ndarray | None = None, is_tp: np.ndarray | None = None) -> np.ndarray:
    """Indices sorting detections by score desc, then tiebreak desc, then (if given) true positives first; stable."""
    scores = np.asarray(scores, dtype=np.float64)
    keys: list[np.ndarray] = []
    if is_tp is not None:
        keys.append(~np.asarray(is_tp, dtype=bool))  # False (a TP) sorts first
    if tiebreak is not None:
        keys.append(-np.asarray(tiebreak, dtype=np.float64))
    keys.append(-scores)
    return np.lexsort(keys) if keys else np.arange(len(scores))


def precision_recall(
    scores: np.ndarray,
    is_tp: np.ndarray,
    num_positives: int,
    tiebreak: np.ndarray | None = None,
    ties: TiePolicy = "grouped",
) -> PrecisionRecall:
    """Precision / recall points of a detection list whose true positives are already decided."""
    scores = np.asarray(scores, dtype=np.float64)
    is_tp = np.asarray(is_tp, dtype=bool)
    tb = np.zeros_like(scores) if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)
    if len(scores) == 0:
        empty = np.zeros(0)
        return PrecisionRecall(empty, empty, empty, num_positives)
    order = rank_order(scores, tb, is_tp if ties == "true_positives_first" else None)
    tp_sorted = is_tp[order]
    tp = np.cumsum(tp_sorted)
    fp = np.cumsum(~tp_sorted)
    if ties == "grouped":
        s, t = scores[order], tb[order]
        last_of_block = np.ones(len(order), dtype=bool)
        last_of_block[:-1] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
        idx = np.flatnonzero(last_of_block)
    else:
        idx = np.arange(len(order))
    tp, fp = tp[idx], fp[idx]
    tp_added = np.diff(np.concatenate([[0], tp]))
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / num_positives if num_positives > 0 else np.zeros_like(tp, dtype=np.float64)
    return PrecisionRecall(precision.astype(np.float64), recall.astype(np.float64), tp_added, num_positives)


def thumos_11point_ap(pr: PrecisionRecall) -> float:
    """Official THUMOS'14 AP: mean over recall levels 0, 0.1, ..., 1 of the best precision at recall >= level."""
    levels = np.linspace(0.0, 1.0, 11)
    total = 0.0
    for level in levels:
        # Same comparison as the MATLAB code (rec >= t) on a rounded recall, so 0.3 reached as 3/10 counts.
        reached = np.round(pr.recall, 12) >= np.round(level, 12)
        total += float(pr.precision[reached].max()) if reached.any() else 0.0
    return total / len(levels)


def trapezoid_ap(pr: PrecisionRecall) -> float:
    """Area under the precision-recall polyline from (R=0, P=1), as in the ACT frame-AP code."""
    if pr.num_positives == 0:
        return 0.0
    precision = np.concatenate([[1.0], pr.precision])
    recall = np.concatenate([[0.0], pr.recall])
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) * 0.5))


def raw_area_ap(pr: PrecisionRecall) -> float:
    """Non-interpolated AP: the precision at each true positive, summed and divided by the ground-truth count."""
    if pr.num_positives == 0:
        return 0.0
    return float(np.sum(pr.tp_at_point * pr.precision) / pr.num_positives)
