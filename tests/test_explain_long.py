"""Long videos: `wherewhen explain` explains a real clip of 2,008 frames as sliding clips over its whole length
(one timeline, segments with class and score), with the cubes streamed through in bounded memory."""

from __future__ import annotations

import csv
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from wherewhen.cli import main
from wherewhen.errors import ConfigError
from wherewhen.evaluate.predict import sliding_windows
from wherewhen.explain import FILES, Explainer, load_explanation
from wherewhen.explain.detections import detection_rows
from wherewhen.explain.sliding import SlidingPlan, default_plan, run_windows, sliding_record, training_clip_seconds
from wherewhen.features.store import FeatureStore
from wherewhen.video.probe import probe
from wherewhen.video.sampling import fps_indices


@pytest.fixture(scope="module")
def run_dir(trained_runs: Path) -> Path:
    return trained_runs / "attention_pool"


def test_the_defaults_suit_the_training_clips(run_dir: Path, embedded_features: tuple[Path, FeatureStore]) -> None:
    _, store = embedded_features
    explainer = Explainer.from_pretrained(run_dir, device="cpu")
    seconds = training_clip_seconds(explainer.features, store.root)
    assert seconds == pytest.approx(1.6)  # the benchmark's videos: 16 frames at 10 fps, one clip each
    plan = default_plan(explainer, seconds)
    assert plan == SlidingPlan(window=8, stride=4, rate=5.0)  # the run's T = 8 rows over 1.6 s
    assert default_plan(explainer, None).rate == 2.0  # no store to measure: 2 rows per second
    assert default_plan(explainer, seconds, window=4, stride=1, rate=1.5) == SlidingPlan(4, 1, 1.5)
    with pytest.raises(ConfigError, match="--stride must be at least 1"):
        SlidingPlan(8, 0, 2.0)


def test_cli_explains_a_long_real_clip_as_sliding_clips(
    run_dir: Path, long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = probe(long_video)
    assert info.num_frames >= 2000 and info.duration > 8 * 1.6  # long enough for sliding clips by default
    out = tmp_path / "out"
    main(["explain", str(run_dir), str(long_video), "-o", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    explanation = load_explanation(out / FILES["json"])

    rows = fps_indices(info.num_frames, info.fps, 5.0)  # every 0.2 s over the whole video
    windows = sliding_windows(len(rows), 8, 4)
    assert [f.index for f in explanation.frames] == rows and len(rows) == 402
    assert explanation.clips == windows and len(windows) == 100
    assert explanation.frames[-1].time_s > info.duration - 0.5  # one timeline over the whole length
    assert sum(f.weight for f in explanation.frames) == pytest.approx(1.0)
    assert all(f.attention.shape == (7, 7) for f in explanation.frames)
    assert f"{len(windows)} sliding clips (clips of 8 rows every 4 rows, 5 rows per second)" in printed

    with open(out / FILES["segments"], newline="") as f:
        detections = list(csv.reader(f))
    assert detections[0] == ["video", "start", "end", "class", "score"]
    assert len(detections) == len(explanation.segments) + 1 >= 2
    classes = set(explanation.probabilities)
    rows_of = detection_rows(explanation)
    assert detections[1:] == [[v, f"{a:.3f}", f"{b:.3f}", c, f"{p:.4f}"] for v, a, b, c, p in rows_of]
    for video, start, end, label, score in rows_of:
        assert video == "long.mp4" and label in classes and 0 < score <= 1
        assert 0 <= start < end <= info.duration + 1e-6
        assert f"  long.mp4 {start:.2f} {end:.2f} {label} {score:.4f}\n" in printed
    assert [r[4] for r in rows_of] == sorted((r[4] for r in rows_of), reverse=True)
    assert {s.label for s in explanation.segments} <= classes


def test_cubes_are_dropped_once_no_clip_needs_them(run_dir: Path, long_video: Path) -> None:
    """The clips go through the model as their rows arrive; at no time are more cubes alive than a window and the
    row being added, whatever the length (the memory benchmark measures the whole process)."""
    explainer = Explainer.from_pretrained(run_dir, device="cpu")
    info = probe(long_video)
    plan = SlidingPlan(window=8, stride=4, rate=5.0)
    rows = fps_indices(info.num_frames, info.fps, plan.rate)
    record = sliding_record(explainer, long_video.resolve(), info, rows, plan)
    alive: weakref.WeakSet[torch.Tensor] = weakref.WeakSet()
    most = 0

    def cubes():
        nonlocal most
        for row in range(len(rows)):
            cube = torch.randn(1280, 7, 7).half()
            alive.add(cube)
            most = max(most, len(alive))
            yield row, cube

    reported: list[tuple[int, int]] = []
    clips = run_windows(explainer, record, cubes(), lambda done, total: reported.append((done, total)))
    assert len(clips) == len(record.clips) and most <= plan.window + 1
    assert reported[-1] == (len(rows), len(rows)) and len(reported) == -(-len(rows) // 16)
    assert [c.rows.tolist() for c in clips] == record.clips
    assert all(np.isclose(c.temporal.sum(), 1.0) for c in clips)


def test_sliding_options_need_sliding_clips(
    run_dir: Path, long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(run_dir), str(long_video), "-o", str(tmp_path / "x"), "--no-sliding", "--window", "4"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: --window: for sliding clips only; drop --no-sliding or the option\n"
