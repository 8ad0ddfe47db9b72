"""Frame-AP on hand-computed detection lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wherewhen.evaluate.spatial import frame_average_precision, match_frame_detections

GT_BOX = (0.0, 0.0, 10.0, 10.0)


def gt_frames(*frames: int) -> dict[int, np.ndarray]:
    return {f: np.array([GT_BOX]) for f in frames}


@pytest.mark.parametrize("iou", [0.05, 0.1, 0.2, 0.3, 0.5, 0.99])
def test_ground_truth_against_itself_gives_ap_one(iou: float) -> None:
    gt = {1: np.array([GT_BOX, (20, 20, 40, 40)]), 2: np.array([GT_BOX]), 7: np.array([(5, 5, 9, 9)])}
    frames = np.array([1, 1, 2, 7])
    boxes = np.concatenate([gt[1], gt[2], gt[7]])
    scores = np.array([0.3, 0.9, 0.5, 0.1])
    assert frame_average_precision(frames, scores, boxes, gt, iou) == pytest.approx(1.0)


def test_frame_ap_with_a_shifted_box_and_a_background_frame() -> None:
    # Ground truth in frames 1, 2, 3. Detections, best first:
    #   frame 1 exact box (IoU 1), score .9
    #   frame 2 box shifted by half its width (IoU 50/150 = 1/3), score .8
    #   frame 4 (no ground truth), score .7
    # IoU threshold 0.3: TP TP FP -> precision 1, 1, 2/3; recall 1/3, 2/3, 2/3
    #   trapezoid from (0, 1): 1/3 * 1 + 1/3 * 1 + 0 = 2/3
    # IoU threshold 0.5: TP FP FP -> precision 1, 1/2, 1/3; recall 1/3, 1/3, 1/3 -> 1/3
    frames = np.array([1, 2, 4])
    boxes = np.array([GT_BOX, (5, 0, 15, 10), GT_BOX])
    scores = np.array([0.9, 0.8, 0.7])
    gt = gt_frames(1, 2, 3)
    assert frame_average_precision(frames, scores, boxes, gt, 0.3) == pytest.approx(2 / 3)
    assert frame_average_precision(frames, scores, boxes, gt, 0.5) == pytest.approx(1 / 3)


def test_a_ground_truth_box_matches_only_once() -> None:
    # Two detections on the one ground-truth box of frame 5: the higher score takes it, the other is a FP.
    frames = np.array([5, 5])
    boxes = np.array([GT_BOX, GT_BOX])
    is_tp = match_frame_detections(frames, np.array([0.2, 0.6]), boxes, gt_frames(5), 0.5)
    assert is_tp.tolist() == [False, True]


def test_tied_scores_do_not_depend_on_list_order() -> None:
    # Same score for a TP (frame 1) and a FP (frame 9): one grouped point (P 1/2, R 1) -> trapezoid 1/2 * (1+1/2)/2
    boxes = np.array([GT_BOX, GT_BOX])
    for frames in (np.array([1, 9]), np.array([9, 1])):
        ap = frame_average_precision(frames, np.array([0.5, 0.5]), boxes, gt_frames(1), 0.5)
        assert ap == pytest.approx(0.75)


def test_one_box_per_frame_shortcut_matches_the_general_greedy_matching() -> None:
    # The same random detections matched twice: once with one box per frame (vectorized path), once with an extra
    # frame holding two boxes that no detection visits (the general loop). Every decision must be the same.
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 40, size=300)
    xy = rng.uniform(0, 20, size=(300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 15, size=(300, 2))], axis=1)
    scores = rng.integers(0, 10, size=300) / 10  # many ties
    gt = {f: np.array([(5.0, 5.0, 15.0, 15.0)]) for f in range(0, 40, 2)}
    for thr in (0.0, 0.1, 0.3, 0.5):
        fast = match_frame_detections(frames, scores, boxes, gt, thr)
        slow = match_frame_detections(frames, scores, boxes, {**gt, 999: np.array([GT_BOX, GT_BOX])}, thr)
        assert fast.tolist() == slow.tolist()
        assert fast.sum() == len(np.unique(frames[fast]))  # at most one TP per ground-truth box


def test_real_ucf101_24_tubes_against_themselves_and_shifted(shared_data: Path) -> None:
    # Real corrected UCF101-24 tubes (test split, videos with one actor, every third). Each box scored against
    # itself gives AP 1; each box moved right by half its width overlaps its original at exactly
    # (w/2 * h) / (w*h + w/2 * h) = 1/3: a true positive at IoU 0.05 and 0.3, a false positive at 0.5.
    from wherewhen.datasets.ucf101_24 import read_ucf101_24

    index = read_ucf101_24(shared_data / "annotations" / "ucf101_24")
    videos = [r for r in index.records if r.split == "test" and len(r.tracks) == 1][::3]
    assert len(videos) > 200
    for name in index.classes:
        keys, boxes = [], []
        for v, rec in enumerate(videos):
            if rec.label == name:
                keys += [v * 100_000 + f for f in rec.tracks[0].boxes]
                boxes += list(rec.tracks[0].boxes.values())
        if not keys:
            continue
        frames, gt_boxes = np.array(keys), np.array(boxes, dtype=np.float64)
        ground_truth = {k: b[None] for k, b in zip(keys, gt_boxes, strict=True)}
        width = gt_boxes[:, 2] - gt_boxes[:, 0]
        shifted = gt_boxes + np.stack([width / 2, 0 * width, width / 2, 0 * width], axis=1)
        scores = np.linspace(1.0, 0.0, len(keys))
        for iou, expected in ((0.05, 1.0), (0.3, 1.0), (0.5, 0.0)):
            assert frame_average_precision(frames, scores, gt_boxes, ground_truth, iou) == pytest.approx(1.0)
            assert frame_average_precision(frames, scores, shifted, ground_truth, iou) == pytest.approx(expected)
