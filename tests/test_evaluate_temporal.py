"""Segments from weights, tIoU, THUMOS'14 matching and interpolated AP: hand-computed and on real annotations."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from wherewhen.evaluate.temporal import (
    SegmentDetections,
    merge_windows,
    rows_to_seconds,
    segments_from_weights,
    temporal_average_precision,
    tiou,
    tiou_matrix,
)

# rows:      0    1    2    3    4    5    6    7    8    9
WEIGHTS = [0.1, 0.9, 1.0, 0.2, 0.8, 0.9, 0.1, 0.1, 0.7, 0.1]


def test_segments_close_a_small_gap_and_drop_a_tiny_one() -> None:
    # kept (>= 0.5 of max): rows 1-2, 4-5, 8. The 1-row gap (row 3) closes -> 1-5; the 2-row gap (6-7) stays;
    # the 1-row segment at 8 is dropped.
    assert segments_from_weights(WEIGHTS, 0.5, close_gaps=2, min_length=2) == [(1, 5)]
    assert segments_from_weights(WEIGHTS, 0.5, close_gaps=1, min_length=1) == [(1, 2), (4, 5), (8, 8)]
    assert segments_from_weights(WEIGHTS, 0.5, close_gaps=3, min_length=1) == [(1, 8)]
    # max-normalized: scaling the weights changes nothing (a softmax over 10 rows sums to 1)
    scaled = np.array(WEIGHTS) / np.sum(WEIGHTS)
    assert segments_from_weights(scaled, 0.5, close_gaps=2, min_length=2) == [(1, 5)]


def test_rows_to_seconds_uses_midpoints() -> None:
    times = np.arange(10) * 0.5  # rows every 0.5 s
    # rows 1-5 -> [0.25, 2.75]; row 0 starts at 0 (clipped), row 9 ends at 4.5 + 0.25 = 4.75 (duration 4.6 clips it)
    seconds = rows_to_seconds([(1, 5), (0, 0), (9, 9)], times, duration=4.6)
    assert np.array(seconds) == pytest.approx(np.array([(0.25, 2.75), (0.0, 0.25), (4.25, 4.6)]))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [((0, 10), (0, 10), 1.0), ((0, 10), (5, 15), 5 / 15), ((0, 10), (10, 20), 0.0), ((2, 4), (0, 10), 0.2)],
)
def test_tiou(a: tuple[float, float], b: tuple[float, float], expected: float) -> None:
    assert tiou(a, b) == pytest.approx(expected)
    assert tiou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_merge_overlapping_windows() -> None:
    # 6 rows, windows 0-3 and 2-5. Window 1 weights (sum 1) [.1 .1 .4 .4] -> ratio to uniform x4 = [.4 .4 1.6 1.6];
    # window 2 [.5 .5 0 0] -> [2 2 0 0]. Rows 2, 3 are covered twice: (1.6 + 2) / 2 = 1.8.
    timeline = merge_windows(
        6, [(np.arange(0, 4), np.array([0.1, 0.1, 0.4, 0.4])), (np.arange(2, 6), np.array([0.5, 0.5, 0, 0]))]
    )
    assert timeline == pytest.approx([0.4, 0.4, 1.8, 1.8, 0.0, 0.0])


def detections(rows: list[tuple[str, float, float, float]]) -> SegmentDetections:
    return SegmentDetections(
        videos=[r[0] for r in rows],
        intervals=[(r[1], r[2]) for r in rows],
        scores=[r[3] for r in rows],
        tiebreak=[0.0] * len(rows),
    )


GROUND_TRUTH = {"A": np.array([(0.0, 10.0), (20.0, 30.0)]), "B": np.array([(5.0, 15.0)])}


def test_known_thumos_ap_and_its_difference_from_raw_area() -> None:
    # ranked: A (0,10) .9 TP (tIoU 1); B (40,50) .8 FP; A (21,31) .7 TP (tIoU 9/11); B (5,14) .6 TP (tIoU .9)
    # precision 1, 1/2, 2/3, 3/4; recall 1/3, 1/3, 2/3, 1
    # 11-point: levels 0-.3 -> 1 (x4); .4-.6 -> max(2/3, 3/4) = 3/4 (x3); .7-1 -> 3/4 (x4) -> 9.25 / 11
    # (the raw area would be (1 + 2/3 + 3/4) / 3 = 29/36 = 0.806)
    dets = detections([("A", 0, 10, 0.9), ("B", 40, 50, 0.8), ("A", 21, 31, 0.7), ("B", 5, 14, 0.6)])
    assert temporal_average_precision(dets, GROUND_TRUTH, 0.5) == pytest.approx(9.25 / 11)
    # At tIoU 0.85 the A (21, 31) detection (9/11 = 0.818) is a FP: TP FP FP TP -> P 1, 1/2, 1/3, 1/2; R 1/3 1/3 1/3 2/3
    # 11-point: 0-.3 -> 1 (x4), .4-.6 -> 1/2 (x3), .7-1 -> 0 -> 5.5 / 11
    assert temporal_average_precision(dets, GROUND_TRUTH, 0.85) == pytest.approx(5.5 / 11)


def test_ambiguous_overlaps_remove_false_positives() -> None:
    # an extra FP at .85 in video A overlapping an Ambiguous segment: removed -> same AP as above;
    # without the Ambiguous segment it ranks second: TP FP FP TP TP -> P 1, 1/2, 1/3, 1/2, 3/5; R 1/3 1/3 1/3 2/3 1
    # 11-point: 0-.3 -> 1 (x4), .4-1 -> 3/5 (x7) -> 8.2 / 11
    dets = detections(
        [("A", 0, 10, 0.9), ("A", 60, 70, 0.85), ("B", 40, 50, 0.8), ("A", 21, 31, 0.7), ("B", 5, 14, 0.6)]
    )
    ambiguous = {"A": np.array([(58.0, 65.0)])}
    assert temporal_average_precision(dets, GROUND_TRUTH, 0.5, ambiguous) == pytest.approx(9.25 / 11)
    assert temporal_average_precision(dets, GROUND_TRUTH, 0.5) == pytest.approx(8.2 / 11)


def test_threshold_is_strict_as_in_the_official_code() -> None:
    # tIoU of (0, 5) with (0, 10) is exactly 0.5: a TP at 0.4, not at 0.5
    gt = {"A": np.array([(0.0, 10.0)])}
    dets = detections([("A", 0, 5, 0.9)])
    assert temporal_average_precision(dets, gt, 0.4) == pytest.approx(1.0)
    assert temporal_average_precision(dets, gt, 0.5) == 0.0


def test_each_ground_truth_takes_one_detection() -> None:
    # two copies of the same detection on one ground truth: one TP, one FP -> P 1, 1/2; R 1, 1 -> 11-point 1.0,
    # but a second ground truth nobody detects halves recall: P 1, 1/2; R 1/2, 1/2 -> levels 0-.5 -> 1 -> 6/11
    dets = detections([("A", 0, 10, 0.9), ("A", 0, 10, 0.8)])
    assert temporal_average_precision(dets, {"A": np.array([(0.0, 10.0)])}, 0.5) == pytest.approx(1.0)
    two = {"A": np.array([(0.0, 10.0), (50.0, 60.0)])}
    assert temporal_average_precision(dets, two, 0.5) == pytest.approx(6 / 11)


def read_thumos(path: Path) -> tuple[dict[str, dict[str, list]], dict[str, list]]:
    by_class: dict[str, dict[str, list]] = {}
    ambiguous: dict[str, list] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            seg = (float(row["start"]), float(row["end"]))
            if row["type"] == "Ambiguous":
                ambiguous.setdefault(row["video"], []).append(seg)
            else:
                by_class.setdefault(row["type"], {}).setdefault(row["video"], []).append(seg)
    return by_class, ambiguous


def test_real_thumos14_test_annotations_against_themselves(shared_data: Path) -> None:
    by_class, ambiguous = read_thumos(shared_data / "annotations" / "thumos14" / "test_Annotation.csv")
    assert len(by_class) == 20 and sum(len(v) for v in ambiguous.values()) == 99
    amb = {k: np.array(v) for k, v in ambiguous.items()}
    for thr in (0.1, 0.3, 0.5):
        aps = []
        for videos in by_class.values():
            gt = {k: np.array(v) for k, v in videos.items()}
            rows = [(k, s, e, 1.0) for k, segs in videos.items() for s, e in segs]
            aps.append(temporal_average_precision(detections(rows), gt, thr, amb))
        assert np.mean(aps) == pytest.approx(1.0)
    # Keep every other detection: precision stays 1 and recall is k/n, so the 11-point AP counts the recall levels
    # 0, 0.1, ... up to k/n: (floor(10 k/n) + 1) / 11.
    for videos in by_class.values():
        gt = {k: np.array(v) for k, v in videos.items()}
        rows = [(k, s, e, 1.0) for k, segs in videos.items() for s, e in segs][::2]
        n = sum(len(v) for v in videos.values())
        expected = (np.floor(10 * len(rows) / n + 1e-9) + 1) / 11
        assert temporal_average_precision(detections(rows), gt, 0.5, amb) == pytest.approx(expected)
