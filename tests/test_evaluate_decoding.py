"""How maps and weights become boxes, peaks, frame scores and segments: the weakly supervised localization
practice beside the paper's rule, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from wherewhen.evaluate.boxes import attention_box, attention_peak, upsampled
from wherewhen.evaluate.predict import ClipOutput, VideoPrediction
from wherewhen.evaluate.spatial import SpatialConfig, spatial_localization
from wherewhen.evaluate.temporal import TemporalConfig, video_segments
from wherewhen.evaluate.truth import box_cells, box_overlap, segment_rows
from wherewhen.features.store import FeatureRecord

# A 7x7 grid over the crop x=40, y=20, w=280, h=210 of a 320x240 frame: every cell is 40 x 30 pixels.
CROP = (40.0, 20.0, 280.0, 210.0)
FRAME = (320, 240)


def two_cells(right: float) -> np.ndarray:
    m = np.zeros((7, 7))
    m[3, 3], m[3, 4] = 1.0, right
    return m


def test_upsampling_keeps_cell_centres_and_interpolates_between_them() -> None:
    fine = upsampled(two_cells(0.6), 4)
    assert fine.shape == (28, 28)
    # fine pixel j sits at (j + 0.5) / 4 cells, cell c's centre at c + 0.5. Pixel (13, 13) at (3.375, 3.375):
    # 0.875 of cell 3 in each direction, 0.875 * 0.875 * 1.0
    assert fine[13, 13] == pytest.approx(0.765625, abs=1e-6)
    # pixel (14, 15) at y = 3.625 (0.875 of row 3), x = 3.875 (0.625 of cell 3 at 1.0, 0.375 of cell 4 at 0.6)
    assert fine[14, 15] == pytest.approx(0.875 * (0.625 + 0.375 * 0.6), abs=1e-6)


def test_upsampled_box_edges_fall_between_cells() -> None:
    # whole cells: 0.6 >= 0.5, so cells 3-4 of row 3: x 160..240, y 110..140
    assert attention_box(two_cells(0.6), CROP, FRAME, 0.5) == pytest.approx((160, 110, 240, 140))
    # upsampled 4x: right of cell 4's centre the value is 0.6 (5.5 - x) >= 0.5 up to x = 4.667 cells, so the last
    # kept fine pixel is j = 18 (x = 4.625) and the edge is 19 / 4 = 4.75 cells = 40 + 190 px; left of the peak
    # (1 - (3.5 - x)) >= 0.5 from x = 3.0 on: j = 12, edge 3.0 cells = 160 px; rows likewise 3.0..4.0 cells
    box = attention_box(two_cells(0.6), CROP, FRAME, 0.5, region="peak", upsample=4)
    assert box == pytest.approx((160, 110, 230, 140))


def test_upsampled_threshold_relative_to_the_peak_is_scale_free() -> None:
    a = attention_box(two_cells(0.6), CROP, FRAME, 0.3, region="peak", upsample=8)
    b = attention_box(two_cells(0.6) * 1e-3, CROP, FRAME, 0.3, region="peak", upsample=8)
    assert a == pytest.approx(b)


def test_centroid_peak_moves_toward_the_heavier_neighbour() -> None:
    m = np.zeros((7, 7))
    m[3, 2], m[3, 3] = 2.0, 1.0
    # cell peak: centre of (3, 2) = (40 + 2.5 * 40, 20 + 3.5 * 30)
    assert attention_peak(m, CROP) == pytest.approx((140, 125))
    # centroid of the 3x3 window: column (2 * 2 + 1 * 3) / 3 = 7/3, so x = 40 + (7/3 + 0.5) * 40
    assert attention_peak(m, CROP, peak="centroid") == pytest.approx((40 + (7 / 3 + 0.5) * 40, 125))


def test_centroid_peak_of_a_uniform_map_is_the_crop_centre() -> None:
    assert attention_peak(np.full((7, 7), 1 / 49), CROP, peak="centroid") == pytest.approx((180, 125))


def record(rows: int, box_rows: range, segment: tuple[float, float]) -> FeatureRecord:
    box = (150.0, 100.0, 250.0, 160.0)
    return FeatureRecord(
        video_id="v",
        video="v.mp4",
        label="A",
        split="test",
        group=None,
        frame_indices=list(range(rows)),
        clips=[list(range(rows))],
        fps=1.0,
        num_frames=rows,
        duration=float(rows),
        frame_size=FRAME,
        crop=CROP,
        segments=[(segment[0], segment[1], None)],
        boxes=[box if r in box_rows else None for r in range(rows)],
    )


def test_ground_truth_on_the_grid() -> None:
    rec = record(6, range(2, 4), (2.0, 4.0))
    cells = box_cells(rec, 7)
    # box x 150..250 holds the cell centres x = 180 (column 3) and 220 (column 4); y 100..160 holds y = 125 (row 3)
    # and 155 (row 4)
    expected = np.zeros((7, 7), dtype=bool)
    expected[3:5, 3:5] = True
    assert (cells[2] == expected).all() and (cells[3] == expected).all()
    assert not cells[[0, 1, 4, 5]].any()
    overlap = box_overlap(rec, 7)
    # column 2 spans x 120..160: 10 of its 40 px in the box; row 2 spans y 80..110: 10 of 30 px
    assert overlap[2, 2, 2] == pytest.approx(0.25 / 3)
    assert overlap[2, 3, 3] == pytest.approx(1.0)
    assert segment_rows(rec).tolist() == [False, False, True, True, False, False]  # [2, 4) in seconds


def prediction(rec: FeatureRecord, temporal: list[float], maps: np.ndarray) -> VideoPrediction:
    rows = len(temporal)
    clip = ClipOutput(
        rows=np.arange(rows),
        probabilities=np.array([0.9, 0.1]),
        frame_probabilities=None,
        spatial=maps,
        temporal=np.asarray(temporal) / np.sum(temporal),
    )
    return VideoPrediction(record=rec, target=0, clips=[clip], num_rows=rows)


def test_segments_relative_to_the_mean_weight_keep_the_flanks_of_a_sharp_peak() -> None:
    rec = record(6, range(0), (1.0, 4.0))
    maps = np.full((6, 7, 7), 1 / 49)
    pred = prediction(rec, [0.5, 3.0, 10.0, 3.0, 0.5, 0.5], maps)
    # max reference: only row 2 reaches 0.5 * 10, and a one-row run is dropped (min_length 2)
    assert video_segments(pred, TemporalConfig(threshold=0.5, reference="max")) == []
    # mean reference: mean = 17.5 / 6; rows 1-3 reach 0.5 * mean -> rows 1..3 = [0.5, 3.5) s
    (segment,) = video_segments(pred, TemporalConfig(threshold=0.5, reference="mean"))
    assert segment[:2] == pytest.approx((0.5, 3.5))


def test_frame_score_times_temporal_weight_ranks_action_frames_of_every_video_first() -> None:
    # two videos of class A, rows 2-3 carry the box, the map points into it in every row (so every row's box is
    # the same, and only rows 2-3 are true positives). Scored by the video's probability alone, the four rows
    # outside the action of the surer video (0.9) rank above the action rows of the other (0.8); scored by
    # probability x max-normalized temporal weight, every action row ranks first: AP 1.
    maps = np.zeros((6, 7, 7))
    maps[:, 3:5, 3:5] = 0.25
    weights = [0.1, 0.1, 1.0, 1.0, 0.1, 0.1]
    preds = [prediction(record(6, range(2, 4), (2.0, 4.0)), weights, maps) for _ in range(2)]
    preds[1].record.video_id = "w"
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])
    results = {
        score: spatial_localization(preds, probs, ["A", "B"], SpatialConfig(iou_thresholds=(0.3,), frame_score=score))
        for score in ("video", "temporal")
    }
    assert results["temporal"] is not None and results["video"] is not None
    assert results["temporal"]["frame_map"]["0.3"] == pytest.approx(1.0)
    assert results["video"]["frame_map"]["0.3"] < 0.9


def test_the_paper_rule_stays_selectable() -> None:
    from wherewhen.errors import ConfigError
    from wherewhen.evaluate.runner import EvaluationConfig

    paper = EvaluationConfig().with_threshold(0.4).with_decoding("paper")
    assert (paper.spatial.region, paper.spatial.upsample, paper.spatial.peak) == ("all", 1, "cell")
    assert paper.spatial.frame_score == "video" and paper.temporal.reference == "max"
    assert paper.spatial.threshold == paper.temporal.threshold == 0.4
    practice = paper.with_decoding("practice")
    assert practice.spatial == SpatialConfig(threshold=0.4) and practice.temporal == TemporalConfig(threshold=0.4)
    with pytest.raises(ConfigError, match="decoding"):
        EvaluationConfig().with_decoding("best")
