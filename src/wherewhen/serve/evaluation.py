"""A run's evaluation for the page, as a background job: the numbers of ``wherewhen evaluate`` and one row per
test video with how its attention met the ground truth.

The job is ``wherewhen evaluate RUN`` (``evaluate_run``: the run's store, test split and rows per clip; the run's
frame selection for a model that takes one) and writes its files (metrics.json, per_class.csv, confusion.png,
predictions.csv) under ``cache/eval/<key>/`` in the server's working folder, never into the run. Per video:
``pointing`` is the share of its frames with a ground-truth box whose attention peak lies in the box (the pointing
game's test, evaluation's ``SpatialConfig``), ``segment_weight`` the share of its temporal weight on frames inside
a ground-truth segment; None without such ground truth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from wherewhen.atomic import atomic_write_text
from wherewhen.errors import ConfigError, FeatureStoreError
from wherewhen.evaluate.aggregation import video_probabilities
from wherewhen.evaluate.boxes import attention_peaks, point_in_box
from wherewhen.evaluate.predict import VideoPrediction
from wherewhen.evaluate.runner import evaluate_run, read_run
from wherewhen.evaluate.spatial import SpatialConfig
from wherewhen.evaluate.temporal import video_timeline
from wherewhen.features.store import FeatureRecord
from wherewhen.serve.catalog import Catalog, RunEntry
from wherewhen.serve.explaining import decoding_of, digest, file_identity, read
from wherewhen.serve.jobs import Job, JobManager

SPLIT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


class EvaluationService:
    def __init__(self, catalog: Catalog, jobs: JobManager, device: str) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.device = device
        self.folder = catalog.config.folder("cache/eval")

    def request(self, run_ref: object, split: object = None) -> Job:
        run = self.catalog.run(run_ref)
        if run.store is None or not (run.store / "manifest.jsonl").is_file():
            raise FeatureStoreError(run.store or run.path, "the run's feature store is not there to evaluate on")
        splits = read_run(run.path).get("splits")
        split = split or (splits.get("test") if isinstance(splits, dict) else None) or "test"
        if not isinstance(split, str) or not SPLIT_NAME.fullmatch(split):
            raise ConfigError("split must be a split name such as test")
        weights = run.path / "model" / "model.safetensors"
        manifest = file_identity(run.store / "manifest.jsonl")
        key = digest(["eval", file_identity(weights), decoding_of(run), manifest, split])
        folder = self.folder / key
        return self.jobs.submit(
            key, f"evaluate {run.name} ({split})", lambda job: self.evaluate(job, run, split, folder),
            lambda: read(folder / "result.json"),
        )  # fmt: skip

    def evaluate(self, job: Job, run: RunEntry, split: str, folder: Path) -> dict[str, Any]:
        job.report(0.01, "loading the model")
        result, _ = evaluate_run(
            run.path, split=split, data=run.store, out=folder, force=True, device=self.device,
            progress=lambda items: reporting(job, items),
        )  # fmt: skip
        payload = {
            "run": run.id,
            "run_name": run.name,
            "split": split,
            "metrics": result.to_json(),
            "confusion": f"/media/eval/{folder.name}/confusion.png" if (folder / "confusion.png").is_file() else None,
            "videos": [self.video_row(run, p, result.classes) for p in result.predictions],
        }
        atomic_write_text(folder / "result.json", json.dumps(payload))
        return payload

    def video_row(self, run: RunEntry, prediction: VideoPrediction, classes: list[str]) -> dict[str, Any]:
        record = prediction.record
        probabilities = video_probabilities(prediction, "model")
        best = int(np.argmax(probabilities))
        store = next((s for s in self.catalog.stores.values() if run.store and s.root == run.store.resolve()), None)
        with_box, inside = pointing(prediction)
        return {
            "video": None if store is None else f"{store.id}:{record.video_id}",
            "video_id": record.video_id,
            "name": Path(record.video).name,
            "label": record.label,
            "predicted": classes[best],
            "confidence": float(probabilities[best]),
            "correct": record.label == classes[best],
            "frames_with_box": with_box,
            "pointing": None if not with_box else inside / with_box,
            "segment_weight": segment_weight(prediction),
        }


def reporting(job: Job, items: Iterable[FeatureRecord]) -> Iterator[FeatureRecord]:
    records = list(items)
    for done, item in enumerate(records):
        job.report(0.05 + 0.85 * done / max(1, len(records)), f"video {done + 1} of {len(records)}")
        yield item
    job.report(0.9, "computing the metrics")


def pointing(prediction: VideoPrediction) -> tuple[int, int]:
    """(frames with a ground-truth box that some clip covered, those whose attention peak lies in the box)."""

    record, config = prediction.record, SpatialConfig()
    maps, covered = prediction.spatial_maps()
    rows = [r for r in np.flatnonzero(covered) if r < len(record.boxes) and record.boxes[r] is not None]
    if not rows:
        return 0, 0
    peaks = attention_peaks(maps[rows], record.crop, config.peak)
    inside = 0
    for (x, y), row in zip(peaks, rows, strict=True):
        box = record.boxes[row]
        assert box is not None
        inside += point_in_box((float(x), float(y)), box, config.pointing_tolerance)
    return len(rows), inside


def segment_weight(prediction: VideoPrediction) -> float | None:
    """The share of the video's temporal weight (its clips merged) on rows inside a ground-truth segment."""
    if not prediction.record.segments:
        return None
    timeline, covered = video_timeline(prediction)
    times = prediction.times
    inside = np.zeros(len(times), dtype=bool)
    for start, end, _ in prediction.record.segments:
        inside |= (times >= start) & (times < end)
    total = float(timeline[covered].sum())
    return float(timeline[covered & inside].sum() / total) if total > 0 else 0.0
