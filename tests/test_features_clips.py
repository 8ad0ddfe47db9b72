"""Which cube rows a clip reads: the record's clips, and one row per segment (TSN)."""

from __future__ import annotations

import numpy as np

from wherewhen.features.clips import one_row_per_segment, record_clips
from wherewhen.features.store import FeatureRecord


def test_one_row_per_segment_uniform_and_jittered() -> None:
    assert one_row_per_segment(16, 4) == [2, 6, 10, 14]  # segment centres
    assert one_row_per_segment(16, 16) == list(range(16))
    assert one_row_per_segment(3, 6) == [0, 0, 1, 1, 2, 2]  # short clips repeat rows in order
    rng = np.random.default_rng(0)
    for _ in range(50):
        pos = one_row_per_segment(20, 5, rng.random(5))
        assert all(4 * i <= p < 4 * (i + 1) for i, p in enumerate(pos))  # one row from each segment


def test_a_record_without_clips_is_one_clip_of_all_its_rows() -> None:
    def record(clips: list[list[int]]) -> FeatureRecord:
        return FeatureRecord(
            "v", "v.mp4", "a", "train", None, [0, 5, 10], clips, 25.0, 11, 0.44, (64, 48), (0, 0, 48, 48)
        )

    assert record_clips(record([])) == [[0, 1, 2]]
    assert record_clips(record([[], [0, 1]])) == [[0, 1]]
