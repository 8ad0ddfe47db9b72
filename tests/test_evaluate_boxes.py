"""Attention map -> box in original pixels, IoU, attention peak, pointing game: hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from wherewhen.evaluate.boxes import (
    attention_box,
    attention_peak,
    box_iou,
    box_iou_matrix,
    kept_region,
)
from wherewhen.evaluate.spatial import pointing_game

# A 7x7 grid over the crop x=40, y=20, w=280, h=210 of a 320x240 frame: every cell is 40 x 30 pixels,
# cell (r, c) spans x in [40 + 40c, 80 + 40c], y in [20 + 30r, 50 + 30r].
CROP = (40.0, 20.0, 280.0, 210.0)
FRAME = (320, 240)


def blob_map() -> np.ndarray:
    m = np.full((7, 7), 0.01)
    m[2:4, 1:5] = 1.0  # main region: rows 2-3, columns 1-4
    m[3, 2] = 2.0  # the peak, inside the main region
    m[0, 6] = 1.2  # a separate blob at 0.6 of the peak
    m[6, 6] = 0.8  # 0.4 of the peak: below the threshold
    return m / m.sum()  # a softmax-like map that sums to 1


def test_iou_of_ground_truth_with_itself_is_one() -> None:
    assert box_iou((10, 20, 110, 220), (10, 20, 110, 220)) == 1.0


@pytest.mark.parametrize(
    ("shifted", "expected"),
    [
        ((5, 0, 15, 10), 50 / 150),  # half a 10x10 box to the right: 5*10 / (100 + 100 - 50)
        ((2, 2, 12, 12), 64 / 136),  # (2, 2) diagonally: 8*8 / (200 - 64)
        ((10, 0, 20, 10), 0.0),  # touching edges only
        ((0, 0, 5, 5), 25 / 100),  # a quarter inside
    ],
)
def test_iou_of_shifted_box(shifted: tuple[float, ...], expected: float) -> None:
    assert box_iou((0, 0, 10, 10), shifted) == pytest.approx(expected)
    assert box_iou_matrix(np.array([[0, 0, 10, 10]]), np.array([shifted]))[0, 0] == pytest.approx(expected)


def test_all_kept_cells_give_the_tightest_box_through_the_crop() -> None:
    # kept (>= 0.5 of the peak): rows 2-3 x columns 1-4 and cell (0, 6) -> rows 0-3, columns 1-6
    # x1 = 40 + 40*1 = 80, x2 = 40 + 40*7 = 320, y1 = 20 + 30*0 = 20, y2 = 20 + 30*4 = 140
    assert attention_box(blob_map(), CROP, FRAME, 0.5, region="all") == pytest.approx((80, 20, 320, 140))


def test_peak_component_box() -> None:
    # only the component holding the peak: rows 2-3, columns 1-4 -> x 80..240, y 80..140
    assert attention_box(blob_map(), CROP, FRAME, 0.5, region="peak") == pytest.approx((80, 80, 240, 140))
    mask = kept_region(blob_map(), 0.5, region="peak")
    assert mask.sum() == 8 and not mask[0, 6]


def test_peak_component_joins_diagonal_neighbours() -> None:
    m = np.zeros((7, 7))
    m[1, 1], m[2, 2], m[3, 3] = 1.0, 0.9, 0.8  # a diagonal chain: one component
    m[5, 5] = 0.7  # two cells away: its own component
    mask = kept_region(m, 0.5, region="peak")
    assert mask.sum() == 3 and mask[3, 3] and not mask[5, 5]


def test_threshold_changes_the_kept_region() -> None:
    # at 0.35 the cell (6, 6) at 0.4 joins: rows 0-6, columns 1-6 -> y2 = 20 + 30*7 = 230
    assert attention_box(blob_map(), CROP, FRAME, 0.35) == pytest.approx((80, 20, 320, 230))


def test_uniform_map_gives_the_whole_crop_and_points_at_its_centre() -> None:
    uniform = np.full((7, 7), 1 / 49)
    assert attention_box(uniform, CROP, FRAME) == pytest.approx((40, 20, 320, 230))
    assert attention_peak(uniform, CROP) == pytest.approx((180, 125))


def test_raw_mask_below_threshold_gives_no_box() -> None:
    mask = np.full((7, 7), 0.4)
    assert attention_box(mask, CROP, FRAME, 0.5, normalize="none") is None
    assert attention_box(np.zeros((7, 7)), CROP, FRAME) is None


def test_box_is_clipped_to_the_frame() -> None:
    # a crop wider than the frame (padding): grid covers x in [-40, 360]
    m = np.zeros((7, 7))
    m[:, 0] = m[:, 6] = 1
    assert attention_box(m, (-40, 0, 400, 240), FRAME) == pytest.approx((0, 0, 320, 240))


def test_attention_peak_is_the_centre_of_the_maximum_cell() -> None:
    # peak cell (3, 2): x = 40 + 2.5 * 40 = 140, y = 20 + 3.5 * 30 = 125
    assert attention_peak(blob_map(), CROP) == pytest.approx((140, 125))


def test_pointing_game() -> None:
    box = (0, 0, 10, 10)
    peaks = [(5.0, 5.0), (20.0, 20.0), (11.0, 5.0), (10.0, 10.0)]
    assert pointing_game(peaks, [box] * 4) == pytest.approx(2 / 4)  # the corner (10, 10) counts
    assert pointing_game(peaks, [box] * 4, tolerance=1.0) == pytest.approx(3 / 4)


def test_batched_boxes_agree_with_the_per_cell_recipe() -> None:
    from wherewhen.evaluate.boxes import attention_boxes, grid_box_to_pixels, mask_to_grid_box

    rng = np.random.default_rng(3)
    maps = rng.random((50, 7, 7)) ** 4
    maps[7] = 0.0  # nothing kept
    boxes = attention_boxes(maps, CROP, FRAME, 0.5)
    for m, box in zip(maps, boxes, strict=True):
        grid_box = mask_to_grid_box(kept_region(m, 0.5))
        if grid_box is None:
            assert np.isnan(box).all()
        else:
            assert box == pytest.approx(grid_box_to_pixels(grid_box, (7, 7), CROP, FRAME))
