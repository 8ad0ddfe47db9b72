"""The heatmap recipe on hand-made maps, and explanation.json round trips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from wherewhen.errors import ConfigError, WherewhenError
from wherewhen.explain import (
    AttendedSegment,
    Explanation,
    FrameExplanation,
    HeatmapStyle,
    VideoSummary,
    load_explanation,
    overlay_heatmap,
)
from wherewhen.explain.heatmap import colorize
from wherewhen.explain.report import write_json

FRAME_H, FRAME_W = 80, 120
CROP = (20.0, 0.0, 80.0, 80.0)  # x, y, w, h: the square centre of a landscape frame, as a centre crop gives


def grey_frame() -> np.ndarray:
    return np.full((FRAME_H, FRAME_W, 3), 128, dtype=np.uint8)


def changed(out: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return (out != frame).any(axis=2)


def test_percentile_cut_keeps_the_top_fifth_of_the_smoothed_upsampled_map() -> None:
    attention = np.arange(16, dtype=np.float64).reshape(4, 4)  # rises to the bottom-right cell
    frame = grey_frame()
    out = overlay_heatmap(frame, attention, CROP, HeatmapStyle(percentile=80, alpha=1.0))

    # The recipe, step by step: upsample the max-normalized 4x4 map onto the 80x80 crop, smooth with sigma = half
    # a cell (10 px), keep what lies above the 80th percentile of the crop's pixels.
    field = cv2.resize((attention / attention.max()).astype(np.float32), (80, 80), interpolation=cv2.INTER_LINEAR)
    field = cv2.GaussianBlur(field, (0, 0), sigmaX=10, sigmaY=10, borderType=cv2.BORDER_REPLICATE)
    expected = field > np.percentile(field, 80)

    kept = changed(out, frame)
    assert not kept[:, :20].any() and not kept[:, 100:].any()  # heat only inside the crop region
    np.testing.assert_array_equal(kept[:, 20:100], expected)
    assert 0.17 <= kept.sum() / (80 * 80) <= 0.2
    assert kept[79, 99] and not kept[0, 20]  # the peak corner is kept, the lowest corner is not
    rows, cols = np.nonzero(kept)
    assert rows.mean() > 40 and cols.mean() > 60  # the kept region sits in the bottom-right of the crop
    # alpha = 1: kept pixels show the colormap of their stretched value; the peak is the top of jet (dark red)
    np.testing.assert_array_equal(out[79, 99], colorize(np.ones((1, 1)), "jet")[0, 0])
    assert out[79, 99, 0] > 100 and out[79, 99, 2] == 0


def test_alpha_blends_only_kept_pixels() -> None:
    attention = np.zeros((7, 7))
    attention[2, 4] = 1.0
    frame = np.random.default_rng(0).integers(0, 256, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
    solid = overlay_heatmap(frame, attention, CROP, HeatmapStyle(alpha=1.0))
    half = overlay_heatmap(frame, attention, CROP, HeatmapStyle(alpha=0.5))
    kept = changed(solid, frame)
    assert kept.any()
    expected = np.clip(0.5 * frame[kept].astype(np.float32) + 0.5 * solid[kept] + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(half[kept], expected)
    np.testing.assert_array_equal(half[~kept], frame[~kept])
    # the one hot cell (row 2, column 4 of 7 over the 80-px crop) is where the heat is
    rows, cols = np.nonzero(kept)
    cell = 80 / 7
    assert 2 * cell - cell <= rows.mean() <= 3 * cell + cell
    assert 20 + 4 * cell - cell <= cols.mean() <= 20 + 5 * cell + cell
    assert overlay_heatmap(frame, attention, CROP, HeatmapStyle(alpha=0.0)).tolist() == frame.tolist()
    # any alpha: the same pixels change, each to the blend within rounding (float32 sums, half up)
    third = overlay_heatmap(frame, attention, CROP, HeatmapStyle(alpha=0.3))
    exact = 0.7 * frame[kept].astype(np.float64) + 0.3 * solid[kept].astype(np.float64)
    assert np.abs(third[kept] - exact).max() <= 0.5 + 1e-3
    np.testing.assert_array_equal(third[~kept], frame[~kept])


def test_uniform_and_empty_maps_leave_the_frame_alone() -> None:
    frame = grey_frame()
    for attention in (np.full((7, 7), 1 / 49), np.zeros((7, 7))):
        np.testing.assert_array_equal(overlay_heatmap(frame, attention, CROP), frame)


def test_style_is_checked() -> None:
    with pytest.raises(ConfigError, match="colormap 'nope'"):
        HeatmapStyle(colormap="nope")
    with pytest.raises(ConfigError, match="percentile"):
        HeatmapStyle(percentile=100)
    with pytest.raises(ConfigError, match="alpha"):
        HeatmapStyle(alpha=1.5)


def hand_made() -> Explanation:
    rng = np.random.default_rng(3)
    maps = rng.dirichlet(np.ones(49), size=3).reshape(3, 7, 7)
    return Explanation(
        video=VideoSummary("/videos/walk.mp4", num_frames=90, fps=29.97, duration=3.003, width=320, height=240),
        model="stam",
        label="walk",
        confidence=0.625,
        top5=[("walk", 0.625), ("run", 0.25), ("jump", 0.125)],
        probabilities={"jump": 0.125, "run": 0.25, "walk": 0.625},
        frames=[
            FrameExplanation(15, 15 / 29.97, maps[0], (40.0, 0.0, 148.57142857142858, 120.0), 0.2, "walk", 0.5),
            FrameExplanation(45, 45 / 29.97, maps[1], None, 0.5),
            FrameExplanation(75, 75 / 29.97, maps[2], (40.0, 34.285714285714285, 280.0, 240.0), 0.3, "run", 0.4),
        ],
        segments=[AttendedSegment(1.0, 3.003, 0.8)],
        crop=(40.0, 0.0, 240.0, 240.0),
        grid=7,
        clips=[[0, 1, 2]],
        threshold=0.5,
        box_threshold=0.65,
    )


def test_json_round_trips_exactly(tmp_path: Path) -> None:
    explanation = hand_made()
    path = write_json(explanation, tmp_path / "explanation.json")
    back = load_explanation(path)
    assert back.to_dict() == explanation.to_dict()
    for mine, theirs in zip(explanation.frames, back.frames, strict=True):
        assert theirs.attention.dtype == np.float64 and np.array_equal(theirs.attention, mine.attention)
        assert theirs.box == mine.box and type(theirs.box) is type(mine.box)
    assert back.top5 == explanation.top5 and back.segments == explanation.segments
    assert back.video == explanation.video and back.crop == explanation.crop


def test_unreadable_explanations_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "explanation.json"
    with pytest.raises(WherewhenError, match="no such file"):
        load_explanation(path)
    path.write_text("{not json")
    with pytest.raises(WherewhenError, match="not valid JSON"):
        load_explanation(path)
    data = hand_made().to_dict()
    path.write_text(json.dumps(data | {"format": "wherewhen-explanation/0"}))
    with pytest.raises(WherewhenError, match="format 'wherewhen-explanation/0'"):
        load_explanation(path)
    del data["frames"][0]["attention"]
    path.write_text(json.dumps(data))
    with pytest.raises(WherewhenError, match="malformed") as info:
        load_explanation(path)
    assert "\n" not in str(info.value)


def test_box_of_a_known_map_in_original_and_display_pixels() -> None:
    from wherewhen.evaluate.boxes import attention_boxes
    from wherewhen.explain.frames import display_for
    from wherewhen.explain.overlay import BOX_COLOUR, annotate_frame
    from wherewhen.video.transforms import center_crop_box

    # A 1920x1080 frame, resized to a shorter side of 224 and centre-cropped to 224: the grid covers x 420..1500.
    crop = center_crop_box(1920, 1080, 224, 224)
    assert crop == pytest.approx((420.0, 0.0, 1080.0, 1080.0), abs=3)
    attention = np.full((7, 7), 0.1)
    attention[1, 2], attention[3, 4] = 1.0, 0.6  # kept (>= 0.5 of the peak): rows 1..3, columns 2..4
    x1, y1, x2, y2 = (float(v) for v in attention_boxes(attention[None], crop, (1920, 1080), 0.5)[0])
    box = (x1, y1, x2, y2)  # what Explainer._assemble does
    cx, cy, cw, ch = crop
    cell_w, cell_h = cw / 7, ch / 7
    assert box == pytest.approx((cx + 2 * cell_w, cy + 1 * cell_h, cx + 5 * cell_w, cy + 4 * cell_h))

    # Drawn on the frame scaled to 960 px wide, the green box sits at the box's corners times 0.5.
    display = display_for(1920, 1080, 960)
    assert (display.width, display.height) == (960, 540)
    explanation = hand_made()
    explanation.crop = crop
    frame = FrameExplanation(0, 0.0, attention, box, 1.0)
    out = annotate_frame(np.zeros((540, 960, 3), np.uint8), frame, explanation, display)
    green = np.all(out == BOX_COLOUR, axis=2)
    rows, cols = np.nonzero(green)
    x1, y1, x2, y2 = display.box(box)
    edge = 3  # the line is 3 px thick, centred on the box edge
    assert abs(cols.min() - x1) <= edge and abs(cols.max() - x2) <= edge
    assert abs(rows.min() - y1) <= edge and abs(rows.max() - y2) <= edge


def test_temporal_weight_curve_peaks_at_the_heaviest_row() -> None:
    from wherewhen.explain.plots import CURVE_COLOUR, SEGMENT_COLOUR, nice_ticks, timeline_plot

    explanation = hand_made()  # weights 0.2, 0.5, 0.3 at 0.5, 1.5, 2.5 s of a 3.003 s video; a segment from 1 s
    width, height = 600, 170
    image = timeline_plot(explanation, [0, 2], width, height)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    orange = np.all(np.abs(image.astype(int) - CURVE_COLOUR) <= 10, axis=2)
    rows, cols = np.nonzero(orange)
    left, right = 60, width - 15  # the axes
    peak_x = left + 1.5 / 3.003 * (right - left)
    legend = rows > 30  # the legend's line sample sits at the top right
    assert abs(cols[legend][np.argmin(rows[legend])] - peak_x) <= 3  # the curve is highest at the 0.5 row
    shaded = np.all(np.abs(image.astype(int) - (0.85 * 255 + 0.15 * np.array(SEGMENT_COLOUR))) <= 2, axis=2)
    shaded_cols = np.nonzero(shaded.any(axis=0))[0]
    assert abs(shaded_cols.min() - (left + 1.0 / 3.003 * (right - left))) <= 2 and shaded_cols.max() >= right - 2
    assert nice_ticks(10.0) == ([0.0, 2.0, 4.0, 6.0, 8.0, 10.0], 0)
    ticks, decimals = nice_ticks(0.135)
    assert ticks == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.125]) and decimals == 3
