"""Average precision on hand-computed ranked lists, including where THUMOS interpolation differs from raw area."""

from __future__ import annotations

import pytest

from wherewhen.evaluate.ap import precision_recall, raw_area_ap, thumos_11point_ap, trapezoid_ap

# Five detections ranked by score, true positives at ranks 1, 3, 5; four ground-truth items (one never found).
#   rank  TP  precision  recall
#   1     1   1          1/4
#   2     0   1/2        1/4
#   3     1   2/3        2/4
#   4     0   2/4        2/4
#   5     1   3/5        3/4
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]
IS_TP = [True, False, True, False, True]


def test_precision_recall_points() -> None:
    pr = precision_recall(SCORES, IS_TP, num_positives=4)
    assert pr.precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 2 / 4, 3 / 5])
    assert pr.recall.tolist() == pytest.approx([1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4])


def test_raw_area_ap() -> None:
    # (1 + 2/3 + 3/5) / 4 = 34/60
    assert raw_area_ap(precision_recall(SCORES, IS_TP, 4)) == pytest.approx(34 / 60)


def test_thumos_11point_differs_from_raw_area() -> None:
    # recall levels 0, .1, .2: best precision at recall >= level is 1        -> 3 x 1
    #               .3, .4, .5: points with recall 2/4, 2/4, 3/4 -> max 2/3 -> 3 x 2/3
    #               .6, .7:     the point with recall 3/4 -> 3/5            -> 2 x 3/5
    #               .8, .9, 1:  no point reaches them                      -> 0
    # (3 + 2 + 1.2) / 11 = 6.2 / 11 = 0.5636..., not the raw area 34/60 = 0.5667
    ap = thumos_11point_ap(precision_recall(SCORES, IS_TP, 4))
    assert ap == pytest.approx(6.2 / 11)
    assert ap != pytest.approx(34 / 60, abs=1e-3)


def test_trapezoid_ap_from_recall_zero() -> None:
    # polyline (0,1) (1/4,1) (1/4,1/2) (2/4,2/3) (2/4,2/4) (3/4,3/5):
    # 1/4 * (1 + 1)/2 + 1/4 * (1/2 + 2/3)/2 + 1/4 * (1/2 + 3/5)/2 = 1/4 + 7/48 + 11/80 = 8/15
    assert trapezoid_ap(precision_recall(SCORES, IS_TP, 4)) == pytest.approx(8 / 15)


def test_perfect_list_gives_one_everywhere() -> None:
    pr = precision_recall([0.9, 0.5, 0.1], [True, True, True], 3)
    assert thumos_11point_ap(pr) == pytest.approx(1.0)
    assert trapezoid_ap(pr) == pytest.approx(1.0)
    assert raw_area_ap(pr) == pytest.approx(1.0)


def test_tied_scores_grouped_versus_official_order() -> None:
    # A false positive and a true positive with the same score, one ground truth. Grouped: a single point
    # (precision 1/2, recall 1) -> 11-point AP 0.5. Official THUMOS order puts the TP first: (1, 1) -> AP 1.
    scores, is_tp = [0.7, 0.7], [False, True]
    assert thumos_11point_ap(precision_recall(scores, is_tp, 1, ties="grouped")) == pytest.approx(0.5)
    assert thumos_11point_ap(precision_recall(scores, is_tp, 1, ties="true_positives_first")) == pytest.approx(1.0)
    # A tiebreak key orders them: the FP has the higher tiebreak, so it ranks first -> (0, 0), (1/2, 1).
    pr = precision_recall(scores, is_tp, 1, tiebreak=[0.9, 0.1])
    assert pr.precision.tolist() == pytest.approx([0.0, 0.5])


def test_no_detections_gives_zero() -> None:
    pr = precision_recall([], [], 2)
    assert thumos_11point_ap(pr) == 0.0
    assert trapezoid_ap(pr) == 0.0
