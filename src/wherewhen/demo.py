"""The main job on the embedded default, end to end: the story of the toolkit in one call.

generate the embedded where-and-when benchmark -> extract EfficientNet-Lite0 cubes -> train the default model of
``wherewhen train`` (``attention_pool``: where and when) and one without attention -> evaluate both
(classification, spatial and temporal localization) -> explain one test video beside its ground truth (heatmap
video, contact sheet, JSON, HTML report). Every step resumes: a second run reuses
what the first one finished.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("attention_pool", "lstm_avg")  # the default model of `wherewhen train`, and one without attention


@dataclass
class ModelScore:
    model: str
    top1: float
    mean_class_accuracy: float
    pointing_game: float | None
    spatial_map_03: float | None
    temporal_map_05: float | None
    train_seconds: float


@dataclass
class DemoResult:
    out: Path
    scores: list[ModelScore] = field(default_factory=list)
    explained_video: Path | None = None
    report: Path | None = None
    heatmap_video: Path | None = None
    steps: dict[str, float] = field(default_factory=dict)


def run_demo(
    out: str | Path = "demo_out",
    preset: str = "default",
    models: tuple[str, ...] = DEFAULT_MODELS,
    say: Callable[[str], None] = print,
    *,
    benchmark_overrides: dict[str, Any] | None = None,
    train_overrides: tuple[str, ...] = (),
    progress: bool = True,
) -> DemoResult:
    """Run every step into ``out``; ``benchmark_overrides`` (knobs of the preset) and ``train_overrides``
    (``key=value`` as for ``wherewhen train --set``) shrink the job for tests."""
    out = Path(out)
    result = DemoResult(out=out)

    def step(name: str, action: Callable[[], Any]) -> Any:
        say(f"\n== {name}")
        start = time.perf_counter()
        value = action()
        result.steps[name] = time.perf_counter() - start
        return value

    index, store = _benchmark_and_cubes(out, preset, benchmark_overrides or {}, step, say, progress)
    runs = {}
    for k, name in enumerate(models, start=1):
        runs[name] = step(
            f"3/5 train {name} ({k}/{len(models)})",
            lambda name=name: _train(store, out / "runs" / name, train_overrides),
        )
    evaluations = step("4/5 evaluate on the test split", lambda: {n: _evaluate(r) for n, r in runs.items()})
    result.scores = [_score(name, evaluations[name], runs[name]) for name in models]
    video, how = _video_to_explain(index, evaluations_dir=runs[models[0]] / "eval-test")
    say(f"explaining {how}")
    files = step(
        f"5/5 explain {video.name} with {models[0]}", lambda: _explain(runs[models[0]], video, out / "explain")
    )
    result.explained_video, result.report, result.heatmap_video = video, files["html"], files.get("video")
    return result


def _benchmark_and_cubes(
    out: Path,
    preset: str,
    overrides: dict[str, Any],
    step: Callable[[str, Callable[[], Any]], Any],
    say: Callable[[str], None],
    progress: bool,
) -> tuple[Any, Path]:
    """Steps 1 and 2: the embedded benchmark in ``out/benchmark``, its cubes in ``out/features``."""
    # the command line imports this module for DEFAULT_MODELS: torch and the steps' modules load when a step runs
    from wherewhen.datasets.benchmark import generate_benchmark
    from wherewhen.datasets.benchmark import preset as benchmark_preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.features.store import drop_stale_store
    from wherewhen.progress import counting_bar

    bench = out / "benchmark"
    config = benchmark_preset(preset).with_overrides(overrides)

    def generate() -> Any:
        with counting_bar("generate", unit="video", enabled=progress) as report:
            return generate_benchmark(bench, config, progress=report)

    step("1/5 generate the embedded benchmark", generate)
    index = read_dataset("embedded", bench)
    store = out / "features"
    if old := drop_stale_store(store):  # a demo folder from an older version: its cubes and models start over
        say(f"{store}: cubes made from {old} frames by an older version; extracting and training again")
        shutil.rmtree(out / "runs", ignore_errors=True)
    step(
        "2/5 extract feature cubes (EfficientNet-Lite0, 16 frames per video)",
        lambda: extract_videos(index.records, store, ExtractOptions(progress=progress), classes=index.classes),
    )
    return index, store


def _score(name: str, metrics: dict[str, Any], run_dir: Path) -> ModelScore:
    spatial, temporal = metrics.get("spatial") or {}, metrics.get("temporal") or {}
    return ModelScore(
        model=name,
        top1=metrics["classification"]["top1"],
        mean_class_accuracy=metrics["classification"]["mean_class_accuracy"],
        pointing_game=spatial.get("pointing_game"),
        spatial_map_03=(spatial.get("frame_map") or {}).get("0.3"),
        temporal_map_05=(temporal.get("map") or {}).get("0.5"),
        train_seconds=_train_seconds(run_dir),
    )


def _video_to_explain(index: Any, evaluations_dir: Path) -> tuple[Path, str]:
    """The first test video the explained model classified correctly (a wrong one when it got none right)."""
    tests = [r for r in index.records if r.split == "test"]
    predictions = evaluations_dir / "predictions.csv"
    if predictions.is_file():
        with predictions.open(newline="", encoding="utf-8") as f:
            right = {Path(row["video"]).name for row in csv.DictReader(f) if row["label"] == row["predicted"]}
        for record in tests:
            if Path(record.path).name in right:
                return Path(record.path), "the first test video it classified correctly"
    return Path(tests[0].path), "the first test video"


def _train(store: Path, run_dir: Path, overrides: tuple[str, ...] = ()) -> Path:
    # the command line imports this module for DEFAULT_MODELS: torch and the steps' modules load when a step runs
    from wherewhen.train import load_config, read_run_json, resume_run, train

    if (run_dir / "run.json").is_file():
        run = read_run_json(run_dir)
        if run.get("finished"):
            print(f"already trained: {run_dir}")
            return run_dir
        return resume_run(run_dir).run_dir
    name = run_dir.name
    config = load_config(None, [f"model.name={name}", *overrides], values={"data.store": str(store)})
    return train(config, run_dir).run_dir


def _train_seconds(run_dir: Path) -> float:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return float("nan")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return sum(float(r["seconds"]) for r in rows)


def _evaluate(run_dir: Path) -> dict[str, Any]:
    # the command line imports this module for DEFAULT_MODELS: torch and the steps' modules load when a step runs
    from wherewhen.evaluate.runner import evaluate_run

    _, out_dir = evaluate_run(run_dir, split="test", force=True)
    return json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))


def _explain(run_dir: Path, video: Path, out: Path) -> dict[str, Path]:
    # the command line imports this module for DEFAULT_MODELS: torch and the steps' modules load when a step runs
    from wherewhen.explain import Explainer
    from wherewhen.explain.explanation import truth_line
    from wherewhen.explain.truth import find_truth
    from wherewhen.explain.writer import explain_to_folder

    truth = find_truth(video, run_dir, warn=print)  # the run's store holds the benchmark's annotations
    explanation, files = explain_to_folder(Explainer.from_pretrained(run_dir), video, out, force=True, truth=truth)
    print(f"{video.name}: predicted {explanation.label} ({explanation.confidence:.0%})")
    line = truth_line(explanation)
    if line is not None:
        print(line)
    return {k: Path(v) for k, v in files.items()}
