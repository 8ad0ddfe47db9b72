"""Frame sampling strategies: uniform, TSN (train / test), fixed-fps stride, sliding windows."""

from __future__ import annotations

import pytest

from wherewhen.errors import ConfigError
from wherewhen.video.sampling import SamplingSpec, sample


def test_uniform_takes_segment_centres() -> None:
    s = sample(SamplingSpec(frames=16), 250, 25.0)
    assert len(s.frame_indices) == 16 and s.clips == [list(range(16))]
    assert s.frame_indices[0] == 7 and s.frame_indices[-1] == 242
    assert s.frame_indices == sorted(s.frame_indices)
    assert sample(SamplingSpec(frames=30), 300, 30.0).frame_indices == list(range(5, 300, 10))


def test_uniform_repeats_frames_of_short_videos() -> None:
    s = sample(SamplingSpec(frames=16), 5, 25.0)
    assert len(s.frame_indices) == 16 and sorted(set(s.frame_indices)) == [0, 1, 2, 3, 4]


def test_tsn_random_frame_per_segment_when_training_centre_when_testing() -> None:
    test = sample(SamplingSpec("tsn", 8), 100, 25.0, key="v1").frame_indices
    assert test == [6, 18, 31, 43, 56, 68, 81, 93]
    train_a = sample(SamplingSpec("tsn", 8, train=True), 100, 25.0, key="v1").frame_indices
    train_b = sample(SamplingSpec("tsn", 8, train=True), 100, 25.0, key="v2").frame_indices
    assert train_a == sample(SamplingSpec("tsn", 8, train=True), 100, 25.0, key="v1").frame_indices  # seeded
    assert train_a != train_b
    for k, index in enumerate(train_a):
        assert k * 12.5 - 1 < index < (k + 1) * 12.5  # inside its own segment


def test_fps_stride() -> None:
    rows = sample(SamplingSpec("fps", rate=2.0), 250, 25.0).frame_indices
    assert rows[:4] == [0, 12, 25, 38] and len(rows) == 20
    assert sample(SamplingSpec("fps", rate=50.0), 10, 25.0).frame_indices == list(range(10))
    assert len(sample(SamplingSpec("fps", rate=2.0, max_frames=8), 250, 25.0).frame_indices) == 8


def test_sliding_windows_cover_a_long_video() -> None:
    s = sample(SamplingSpec("sliding", frames=8, rate=2.0, stride=4), 750, 25.0)  # 30 s at 2 fps = 60 rows
    assert len(s.frame_indices) == 60
    assert s.clips[0] == list(range(8)) and s.clips[1] == list(range(4, 12))
    assert s.clips[-1] == list(range(52, 60))
    assert all(len(c) == 8 for c in s.clips)
    short = sample(SamplingSpec("sliding", frames=8, rate=2.0, stride=4), 50, 25.0)
    assert len(short.clips) == 1 and len(short.clips[0]) == 8


def test_bad_specs() -> None:
    with pytest.raises(ConfigError, match="unknown sampling strategy"):
        SamplingSpec("random")
    with pytest.raises(ConfigError, match="at least one frame"):
        SamplingSpec(frames=0)
