"""Explanations for the page: one background job per (model, video, settings), its result kept on disk.

The result of a job is ``cache/explain/<key>.json`` (the explanation and what the page needs beside it) and a
preview every browser plays (``preview``), made once per video and shared by every model. The key hashes the run's
weights file, its model's decoding (the box threshold its class declares), the video file (path, size, modification
time) and the settings, so a second view of the same thing is read back at once, and a changed model, decoding or
video is explained anew.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wherewhen.atomic import atomic_write_text
from wherewhen.errors import ConfigError
from wherewhen.evaluate.runner import read_run
from wherewhen.explain import Explainer, Explanation
from wherewhen.explain.detections import detection_rows
from wherewhen.explain.explanation import truth_line
from wherewhen.explain.sliding import default_plan, explain_sliding, is_long, training_clip_seconds
from wherewhen.explain.truth import find_truth, with_truth
from wherewhen.serve.catalog import Catalog, NotFound, RunEntry, VideoEntry
from wherewhen.serve.jobs import Job, JobManager
from wherewhen.serve.preview import write_preview
from wherewhen.video.probe import probe

SLIDING = ("auto", "on", "off")


@dataclass(frozen=True)
class ExplainSettings:
    sliding: str = "auto"  # auto: sliding clips for a video much longer than the training clips
    window: int | None = None
    stride: int | None = None
    rate: float | None = None
    chosen: tuple[int, ...] | None = None  # cube rows a person chose, for a model that takes a frame selection

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExplainSettings:
        """The settings of a request body; a wrong one is a one-line ConfigError."""
        sliding = data.get("sliding") or "auto"
        if sliding not in SLIDING:
            raise ConfigError(f"sliding must be one of {', '.join(SLIDING)}, got {str(sliding)[:20]!r}")
        window, stride = whole_number(data, "window"), whole_number(data, "stride")
        rate = data.get("rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 120):
            raise ConfigError("rate must be a number of rows per second in (0, 120]")
        chosen = data.get("chosen")
        if chosen is not None:
            if not isinstance(chosen, list) or not chosen or not all(is_row(r) for r in chosen):
                raise ConfigError("chosen must be a non-empty list of 0-based cube rows")
            chosen = tuple(sorted(set(chosen)))
        return cls(str(sliding), window, stride, None if rate is None else float(rate), chosen)


def is_row(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1_000_000


def whole_number(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not is_row(value) or value < 1:
        raise ConfigError(f"{name} must be a whole number of rows, at least 1")
    return int(value)


def file_identity(path: Path) -> list[Any]:
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def decoding_of(run: RunEntry) -> dict[str, Any]:
    """What shapes a run's boxes but lives in the code, not in its weights: a cached result made under another
    value is stale."""
    from wherewhen.models import model_class

    cls = model_class(run.model)
    return {"box_threshold": cls.box_threshold, "by_form": getattr(cls, "box_thresholds", None)}


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]


class Explainers:
    """One Explainer per run, loaded on first use; every one shares the first one's backbone where it fits."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._loaded: dict[Path, Explainer] = {}
        self._lock = threading.Lock()

    def get(self, run: RunEntry) -> Explainer:
        with self._lock:
            if run.path not in self._loaded:
                donor = next((e for e in self._loaded.values() if e.features.backbone == backbone_of(run)), None)
                backbone = None if donor is None else donor.backbone
                self._loaded[run.path] = Explainer.from_pretrained(run.path, device=self.device, backbone=backbone)
            return self._loaded[run.path]


def backbone_of(run: RunEntry) -> str | None:
    features = read_run(run.path).get("features")
    return features.get("backbone") if isinstance(features, dict) else None


class ExplainService:
    def __init__(self, catalog: Catalog, jobs: JobManager, device: str) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.explainers = Explainers(device)
        self.results = catalog.config.folder("cache/explain")
        self.previews = catalog.config.folder("cache/previews")

    def request(self, run_ref: object, video_ref: object, settings: ExplainSettings) -> Job:
        run, video = self.catalog.run(run_ref), self.catalog.video(video_ref)
        weights = run.path / "model" / "model.safetensors"
        for path, what in ((video.path, f"the video file of {video.name}"), (weights, f"the weights of {run.name}")):
            if not path.is_file():
                raise NotFound(f"{what} is not there any more ({path})")
        key = digest([file_identity(weights), decoding_of(run), file_identity(video.path), asdict(settings)])
        path = self.results / f"{key}.json"
        title = f"{run.name} on {video.name}"
        return self.jobs.submit(
            key, title, lambda job: self.explain(job, run, video, settings, path), lambda: read(path)
        )

    def preview_path(self, video: VideoEntry) -> Path:
        return self.previews / f"{digest(file_identity(video.path))}.mp4"

    def explain(self, job: Job, run: RunEntry, video: VideoEntry, settings: ExplainSettings, path: Path) -> Any:

        job.report(0.01, "loading the model")
        explainer = self.explainers.get(run)
        plan = sliding_plan(explainer, run, video, settings)
        job.report(0.05, "decoding the frames and running the backbone")
        if plan is not None:

            def rows_done(done: int, total: int) -> None:
                job.report(0.05 + 0.7 * done / total, f"sliding clips: {done} of {total} rows through the backbone")

            explanation = explain_sliding(explainer, video.path, plan, progress=rows_done)
        else:
            chosen = list(settings.chosen) if settings.chosen and "frame_mask" in explainer.inputs else None
            explanation = explainer.explain(video.path, chosen=chosen)
        job.report(0.76, "looking for the ground truth")
        explanation = with_truth(explanation, find_truth(video.path, run.path))
        self.make_preview(job, video)
        payload = result_payload(explanation, run, video, plan, settings, explainer)
        payload["preview"] = f"/media/previews/{self.preview_path(video).name}"
        atomic_write_text(path, json.dumps(payload))
        return payload

    def make_preview(self, job: Job, video: VideoEntry) -> None:
        out = self.preview_path(video)
        if out.is_file():
            return

        def frames_done(done: int, total: int) -> None:
            job.report(0.78 + 0.2 * done / total, f"preparing the video for the browser: frame {done} of {total}")

        write_preview(video.path, out, frames_done)


def read(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sliding_plan(explainer: Explainer, run: RunEntry, video: VideoEntry, settings: ExplainSettings) -> Any:
    """The sliding clips the settings ask for (``auto``: for a long video), or None."""

    if settings.sliding == "off":
        return None
    clip_seconds = training_clip_seconds(explainer.features, run.store)
    if settings.sliding == "auto" and not is_long(probe(video.path).duration, clip_seconds):
        return None
    return default_plan(explainer, clip_seconds, settings.window, settings.stride, settings.rate)


def result_payload(
    explanation: Explanation,
    run: RunEntry,
    video: VideoEntry,
    plan: Any,
    settings: ExplainSettings,
    explainer: Explainer,
) -> dict[str, Any]:
    """What the page draws: the explanation, its detections, and the store rows a person may choose from."""

    takes = "frame_mask" in explainer.inputs
    return {
        "run": run.id,
        "run_name": run.name,
        "video": video.id,
        "video_name": video.name,
        "mode": "whole" if plan is None else "sliding",
        "plan": None if plan is None else {**asdict(plan), "describe": plan.describe()},
        "explanation": explanation.to_dict(),
        "detections": [[video.name, *row[1:]] for row in detection_rows(explanation)],  # uploads: the name given
        "truth_line": truth_line(explanation),
        "takes_selection": takes,
        "chosen": list(settings.chosen) if takes and settings.chosen and plan is None else None,
        "notes": explainer.notes,
    }
