"""Clip and frame aggregation: mean, mode and attention give different, hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from wherewhen.errors import ConfigError
from wherewhen.evaluate.aggregation import aggregate_frames, clip_probabilities, video_probabilities
from wherewhen.evaluate.predict import ClipOutput, VideoPrediction
from wherewhen.features.store import FeatureRecord

# Four frames over classes (A, B, C): frames 0 and 1 lean to B, frame 2 is sure of A, frame 3 leans to C.
FRAMES = np.array(
    [
        [0.3, 0.4, 0.3],
        [0.3, 0.4, 0.3],
        [1.0, 0.0, 0.0],
        [0.0, 0.2, 0.8],
    ]
)
WEIGHTS = np.array([0.1, 0.1, 0.1, 0.7])


def test_mean_picks_a() -> None:
    # (0.3 + 0.3 + 1 + 0) / 4 = 0.4, (0.4 + 0.4 + 0 + 0.2) / 4 = 0.25, (0.3 + 0.3 + 0 + 0.8) / 4 = 0.35
    assert aggregate_frames(FRAMES, "mean") == pytest.approx([0.4, 0.25, 0.35])


def test_mode_picks_b() -> None:
    # votes A 1, B 2, C 1; (votes + mean) / (T + 1): (1.4, 2.25, 1.35) / 5
    assert aggregate_frames(FRAMES, "mode") == pytest.approx([0.28, 0.45, 0.27])


def test_mode_ties_are_broken_by_the_mean() -> None:
    # A and C have one vote each; A's mean is higher
    two = FRAMES[2:]
    p = aggregate_frames(two, "mode")
    assert p.argmax() == 0 and p.sum() == pytest.approx(1.0)


def test_attention_picks_c() -> None:
    # A: .1*.3 + .1*.3 + .1*1 = .16; B: .1*.4 + .1*.4 + .7*.2 = .22; C: .1*.3 + .1*.3 + .7*.8 = .62
    assert aggregate_frames(FRAMES, "attention", WEIGHTS) == pytest.approx([0.16, 0.22, 0.62])


def record(rows: int) -> FeatureRecord:
    return FeatureRecord(
        video_id="v",
        video="v.mp4",
        label="A",
        split="test",
        group=None,
        frame_indices=list(range(rows)),
        clips=[list(range(rows))],
        fps=10.0,
        num_frames=rows,
        duration=rows / 10,
        frame_size=(64, 48),
        crop=(0.0, 0.0, 64.0, 48.0),
    )


def clip(rows: list[int], probs: list[float], frames: np.ndarray | None) -> ClipOutput:
    t = len(rows)
    return ClipOutput(
        rows=np.array(rows),
        probabilities=np.array(probs),
        frame_probabilities=frames,
        spatial=np.full((t, 2, 2), 0.25),
        temporal=WEIGHTS if t == 4 else np.full(t, 1 / t),
    )


def test_video_probabilities_average_the_clips() -> None:
    pred = VideoPrediction(
        record(8),
        0,
        [clip([0, 1, 2, 3], [0.2, 0.2, 0.6], FRAMES), clip([4, 5, 6, 7], [0.6, 0.2, 0.2], FRAMES[::-1].copy())],
        8,
    )
    assert video_probabilities(pred, "model") == pytest.approx([0.4, 0.2, 0.4])
    # mean: both clips' frame means are (0.4, 0.25, 0.35)
    assert video_probabilities(pred, "mean") == pytest.approx([0.4, 0.25, 0.35])


def test_without_frame_logits_every_method_uses_the_model_logits() -> None:
    c = clip([0, 1, 2, 3], [0.1, 0.7, 0.2], None)
    for method in ("model", "mean", "mode", "attention"):
        assert clip_probabilities(c, method) == pytest.approx([0.1, 0.7, 0.2])
    with pytest.raises(ConfigError, match="unknown aggregation"):
        clip_probabilities(c, "median")
