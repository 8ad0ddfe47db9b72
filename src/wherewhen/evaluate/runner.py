"""Evaluate a model on one split of a feature store: classification, spatial and temporal localization.

``evaluate_predictions`` is pure (arrays in, numbers out); ``evaluate_model`` runs a model over a store split
first; ``evaluate_run`` does that for a trained run directory and writes ``RUN/eval-<split>/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from wherewhen.errors import CheckpointError, ConfigError, DatasetError, FeatureStoreError
from wherewhen.evaluate.aggregation import check_aggregation, describe_aggregation, probability_matrix
from wherewhen.evaluate.classification import ClassificationResult, classify
from wherewhen.evaluate.predict import ClipPlan, VideoPrediction, predict_records
from wherewhen.evaluate.report import write_outputs
from wherewhen.evaluate.spatial import SpatialConfig, spatial_localization
from wherewhen.evaluate.temporal import TemporalConfig, temporal_localization
from wherewhen.features.store import FeatureRecord, FeatureStore
from wherewhen.models.inputs import InputSources, declared_inputs, sources_of_run
from wherewhen.models.pretrained import from_pretrained

NO_BOXES = "no ground truth boxes in this split"
NO_SEGMENTS = "no ground truth segments in this split"


@dataclass(frozen=True)
class EvaluationConfig:
    """Everything that changes the numbers; printed with them and saved in metrics.json."""

    split: str = "test"
    clips: ClipPlan = field(default_factory=ClipPlan)
    aggregate: str = "model"
    batch_size: int = 16
    spatial: SpatialConfig = field(default_factory=SpatialConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)

    def with_threshold(self, threshold: float | None) -> EvaluationConfig:
        """The same config with one attention threshold for both the spatial and the temporal maps; None keeps
        the model's box threshold and the temporal default."""
        if threshold is None:
            return self
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"--threshold must be in [0, 1], got {threshold}")
        return replace(
            self,
            spatial=replace(self.spatial, threshold=threshold),
            temporal=replace(self.temporal, threshold=threshold),
        )

    def for_model(self, model: nn.Module) -> EvaluationConfig:
        """This config with ``model``'s box threshold where none is set (``VideoModel.box_threshold``)."""
        return replace(self, spatial=self.spatial.for_model(model))

    def with_decoding(self, decoding: str) -> EvaluationConfig:
        """``"practice"`` (the defaults) or ``"paper"`` (the paper's box and segment rule) at this config's
        thresholds."""
        if decoding == "practice":
            spatial, temporal = SpatialConfig(), TemporalConfig()
        elif decoding == "paper":
            spatial, temporal = SpatialConfig.paper(), TemporalConfig.paper()
        else:
            raise ConfigError(f"--decoding must be 'practice' or 'paper', got {decoding!r}")
        return replace(
            self,
            spatial=spatial if self.spatial.threshold is None else replace(spatial, threshold=self.spatial.threshold),
            temporal=replace(temporal, threshold=self.temporal.threshold),
        )


@dataclass
class EvaluationResult:
    split: str
    classes: list[str]
    config: EvaluationConfig
    protocol: list[str]
    num_videos: int
    classification: ClassificationResult | None
    spatial: dict[str, Any] | None
    temporal: dict[str, Any] | None
    source: dict[str, Any] = field(default_factory=dict)
    # one row per video: video_id, video, label, predicted, confidence (written as predictions.csv)
    videos: list[dict[str, Any]] = field(default_factory=list)
    # the model's outputs per video that the numbers come from (kept in memory, never written)
    predictions: list[VideoPrediction] = field(default_factory=list, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "videos": self.num_videos,
            "source": self.source,
            "config": asdict(self.config),
            "protocol": self.protocol,
            "classes": self.classes,
            "classification": None if self.classification is None else self.classification.to_json(),
            "spatial": self.spatial if self.spatial is not None else {"skipped": NO_BOXES},
            "temporal": self.temporal if self.temporal is not None else {"skipped": NO_SEGMENTS},
        }


def protocol_lines(
    predictions: Sequence[VideoPrediction], config: EvaluationConfig, spatial: bool, temporal: bool
) -> list[str]:
    """How every number was computed, one line per protocol."""
    s, t = config.spatial, config.temporal
    lines = [
        f"split {config.split}: {len(predictions)} videos; clips: {config.clips.describe()}",
        describe_aggregation(predictions, config.aggregate),
        "top-1 / top-5: share of videos whose label is the most probable / among the 5 most probable classes; "
        "mean class accuracy: mean over classes with videos of their top-1 accuracy",
    ]
    if spatial:
        iou = ", ".join(f"{v:g}" for v in s.iou_thresholds)
        norm = "divided by its max" if s.normalize == "max" else "raw"
        grid = f"upsampled {s.upsample}x (bilinear)" if s.upsample > 1 else "whole cells"
        region = "the component around the peak" if s.region == "peak" else "every kept cell"
        score = {
            "video": "the video's class probability",
            "temporal": "the video's class probability x the frame's temporal weight / max",
            "above_mean": "the video's class probability x min(1, the frame's temporal weight / mean)",
        }[s.frame_score]
        peak = "the peak cell's centre" if s.peak == "cell" else "the centroid of the peak cell and its neighbours"
        lines.append(
            f"spatial: per frame, the map ({norm}, {grid}) keeps values >= {s.box_threshold:g}; the tightest box "
            f"around {region} goes through the crop to frame pixels. Frame-AP at IoU >= {iou}: one detection per frame "
            f"and class scored with {score}, trapezoid AP as in ACT, mean over classes with boxes. Pointing game: "
            f"{peak} inside the box (tolerance {s.pointing_tolerance:g} px)"
        )
    else:
        lines.append(f"spatial: {NO_BOXES}")
    if temporal:
        tiou = ", ".join(f"{v:g}" for v in t.tiou_thresholds)
        lines.append(
            f"temporal: timeline of temporal weights (windows merged as w*T), rows >= {t.threshold:g} x its "
            f"{t.reference} kept, gaps < {t.close_gaps} rows closed, segments < {t.min_length} rows dropped; each "
            f"segment scored with the video's class probability. THUMOS'14 matching (tIoU > {tiou}) and 11-point "
            f"interpolated AP, ties {t.ties}"
        )
    else:
        lines.append(f"temporal: {NO_SEGMENTS}")
    return lines


def evaluate_predictions(
    predictions: Sequence[VideoPrediction], classes: Sequence[str], config: EvaluationConfig = EvaluationConfig()
) -> EvaluationResult:
    """All numbers of a split from model outputs already computed (pure: no model, no files)."""
    check_aggregation(config.aggregate)
    if not predictions:
        raise DatasetError(config.split, "no videos to evaluate")
    probabilities = probability_matrix(predictions, config.aggregate)
    labelled = [i for i, p in enumerate(predictions) if p.target is not None]
    classification = None
    if labelled:
        targets = np.array([predictions[i].target for i in labelled], dtype=np.int64)
        classification = classify(probabilities[labelled], targets, classes)
    spatial = spatial_localization(predictions, probabilities, classes, config.spatial)
    temporal = temporal_localization(predictions, probabilities, classes, config.temporal)
    return EvaluationResult(
        split=config.split,
        classes=list(classes),
        config=config,
        protocol=protocol_lines(predictions, config, spatial is not None, temporal is not None),
        num_videos=len(predictions),
        classification=classification,
        spatial=spatial,
        temporal=temporal,
        videos=[
            {
                "video_id": p.record.video_id,
                "video": p.record.video,
                "label": p.record.label,
                "predicted": classes[int(np.argmax(row))],
                "confidence": float(np.max(row)),
            }
            for p, row in zip(predictions, probabilities, strict=True)
        ],
        predictions=list(predictions),
    )


def split_records(store: FeatureStore, split: str) -> list[FeatureRecord]:
    records = [r for r in store.records() if r.split == split]
    if not records:
        found = sorted({r.split for r in store.records()})
        raise FeatureStoreError(store.root, f"no videos in split {split!r} (splits here: {', '.join(found) or 'none'})")
    return records


def evaluate_model(
    model: nn.Module,
    store: FeatureStore,
    classes: Sequence[str],
    config: EvaluationConfig = EvaluationConfig(),
    progress: Callable[[Iterable[FeatureRecord]], Iterable[FeatureRecord]] | None = None,
    sources: InputSources = InputSources(),
) -> EvaluationResult:
    """Run ``model`` over the ``config.split`` records of ``store`` (its extra inputs made from ``sources``) and
    evaluate its outputs."""
    check_aggregation(config.aggregate)
    config = config.for_model(model)
    records = split_records(store, config.split)
    predictions = predict_records(
        model,
        store,
        records,
        classes,
        plan=config.clips,
        batch_size=config.batch_size,
        progress=progress,
        sources=sources,
    )
    result = evaluate_predictions(predictions, classes, config)
    result.source = {"store": str(store.root)}
    return result


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.exists():
        raise CheckpointError(path, "not a run directory (no run.json); pass a folder written by `wherewhen train`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"unreadable run description ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, "run description is not a JSON object")
    return data


def check_store_matches(store: FeatureStore, classes: Sequence[str], features: Any) -> None:
    """One-line error when the store's cubes or classes differ from those the model was trained on."""
    info = store.info
    diff = info.compatible_with(features) if features is not None else []
    if diff:
        raise FeatureStoreError(
            store.info_path,
            f"cubes differ from the model's training store in {', '.join(diff)}; evaluate on a "
            "store extracted the same way",
        )
    if info.classes and list(info.classes) != list(classes):
        raise FeatureStoreError(store.info_path, "class list differs from the model's classes")


def evaluate_run(
    run_dir: str | Path,
    split: str | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    config: EvaluationConfig | None = None,
    device: str = "cpu",
    progress: Callable[[Iterable[FeatureRecord]], Iterable[FeatureRecord]] | None = None,
) -> tuple[EvaluationResult, Path]:
    """Evaluate a trained run and write metrics.json, per_class.csv and confusion.png to ``RUN/eval-<split>``.

    Defaults come from ``RUN/run.json``: the store (``store``), the split (``splits.test``) and the rows per clip
    (``frames``, the T the model was trained and validated with); ``config.clips.frames = 0`` keeps every row.
    """

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    splits = run.get("splits") if isinstance(run.get("splits"), dict) else {}
    split = split or str(splits.get("test") or "test")
    config = config or EvaluationConfig()
    frames = config.clips.frames
    if frames is None and isinstance(run.get("frames"), int) and run["frames"] > 0:
        frames = run["frames"]
    config = replace(config, split=split, clips=replace(config.clips, frames=frames))
    out_dir = Path(out) if out is not None else run_dir / f"eval-{split}"
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise ConfigError(f"{out_dir} already exists; pass --force to overwrite it")
    store_path = data if data is not None else (run.get("store") or run.get("data"))
    if not store_path:
        raise CheckpointError(run_dir / "run.json", "names no feature store; pass --data STORE")
    store = FeatureStore(store_path)
    pretrained = from_pretrained(run_dir / "model", map_location=device)
    check_store_matches(store, pretrained.classes, pretrained.features)
    sources = sources_of_run(run_dir, declared_inputs(pretrained.model))  # the run's frame selection, if it takes one
    result = evaluate_model(pretrained.model, store, pretrained.classes, config, progress, sources)
    result.source = {"run": str(run_dir), "store": str(store.root), "model": run.get("model")}
    write_outputs(result, out_dir)
    return result, out_dir
