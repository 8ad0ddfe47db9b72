"""The main job end to end (what `make demo` runs), shrunk: a tiny embedded benchmark, one epoch per model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av

from wherewhen.demo import DEFAULT_MODELS, DemoResult, run_demo

TINY = {"classes": 3, "videos_per_class": 4, "frames": 24, "width": 96, "height": 96, "distractors": 2}


def tiny_demo(out: Path, say: Callable[[str], None] = lambda _: None) -> DemoResult:
    return run_demo(
        out,
        models=DEFAULT_MODELS,
        benchmark_overrides=TINY,
        train_overrides=("train.epochs=1",),
        progress=False,
        say=say,
    )


def test_demo_runs_every_step_and_resumes(tmp_path: Path) -> None:
    result = tiny_demo(tmp_path)
    assert [s.model for s in result.scores] == ["attention_pool", "lstm_avg"]
    for score in result.scores:
        assert 0.0 <= score.top1 <= 1.0 and score.pointing_game is not None and score.temporal_map_05 is not None
    assert result.report is not None and result.report.is_file()
    assert result.heatmap_video is not None
    with av.open(str(result.heatmap_video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 16
    explanation = json.loads((result.report.parent / "explanation.json").read_text())
    assert explanation["label"] in ["Cat", "Coffee", "Galaxy"]
    assert len(result.steps) == 6

    again = tiny_demo(tmp_path)
    assert [s.top1 for s in again.scores] == [s.top1 for s in result.scores]  # finished steps are reused

    # A demo folder from before the preprocessing tag: its cubes and models are made again, not mixed with new ones.
    info_path = tmp_path / "features" / "store.json"
    info = json.loads(info_path.read_text())
    del info["preprocessing"]
    info_path.write_text(json.dumps(info))
    said: list[str] = []
    trained_before = (tmp_path / "runs" / "attention_pool" / "run.json").stat().st_mtime_ns
    remade = tiny_demo(tmp_path, say=said.append)
    assert any("older version" in line and "resize-then-crop" in line for line in said)
    assert json.loads(info_path.read_text())["preprocessing"] == "centred-square"
    assert (tmp_path / "runs" / "attention_pool" / "run.json").stat().st_mtime_ns != trained_before
    assert [s.top1 for s in remade.scores] == [s.top1 for s in result.scores]  # the same cubes again, the same models
