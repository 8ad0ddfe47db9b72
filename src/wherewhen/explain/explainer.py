"""A trained model + its backbone -> an :class:`Explanation` of any video file.

The video goes through the steps that made the training cubes (``wherewhen.features``): probe, sample frames the
way the model's feature store did (deterministically: TSN takes segment centres), decode them with the shorter side
resized, centre-crop, backbone, float16. The clips then go through the model the way ``wherewhen evaluate`` sends
a store's videos (``wherewhen.evaluate.predict``): the record's clips, T rows of each at segment centres when the
run trained with T rows per clip. Everything after the model is evaluation's too:

- class probabilities: the mean over clips of ``softmax(logits)`` (``aggregation.video_probabilities``);
- a row's map: the mean of its maps over the clips that cover it (``VideoPrediction.spatial_maps``);
- a row's temporal weight: the mean over those clips of ``w * T`` (``temporal.merge_windows``), renormalized to sum
  to 1 over the explained rows; with one clip this is the model's own ``w``;
- boxes: ``boxes.attention_boxes`` with evaluation's ``SpatialConfig`` (the map upsampled, values >= the box
  threshold x its max around the peak, through the crop; the box threshold is ``threshold`` when given, else the
  model's ``box_threshold``); segments: ``temporal.video_segments`` with evaluation's ``TemporalConfig`` (rows with
  weight >= threshold (0.5 when not given) x the mean weight, short gaps closed, single rows dropped),
  each with the class of the clips around it (``explain.detections``).

A model that declares extra inputs (``lrcn_st`` with ``temporal="given"``: a frame mask) gets them from
``wherewhen.models.inputs``: the rows ``chosen`` for the explained video, else the run's frame selection for the
video's id, else every row. Long videos go through ``explain.sliding`` (sliding clips, streamed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from wherewhen.backbones import Backbone, load_backbone
from wherewhen.device import resolve_device
from wherewhen.errors import CheckpointError, ConfigError, VideoError, WherewhenError
from wherewhen.evaluate.aggregation import video_probabilities
from wherewhen.evaluate.boxes import Box, attention_boxes
from wherewhen.evaluate.predict import ClipPlan, VideoPrediction, forward_clips, keys_for, select_clips
from wherewhen.evaluate.runner import read_run
from wherewhen.evaluate.spatial import SpatialConfig
from wherewhen.evaluate.temporal import video_timeline
from wherewhen.explain.detections import attended_segments
from wherewhen.explain.explanation import Explanation, FrameExplanation, VideoSummary
from wherewhen.features.decoding import DecodeDataset, DecodedVideo
from wherewhen.features.forward import embed_frames
from wherewhen.features.overlap import embed_while_decoding
from wherewhen.features.store import PREPROCESSING, FeatureRecord, StoreInfo
from wherewhen.models import VideoModel
from wherewhen.models.inputs import InputSources, clip_inputs, declared_inputs, sources_of_run
from wherewhen.models.pretrained import CONFIG_NAME, from_pretrained
from wherewhen.video.probe import VideoInfo
from wherewhen.video.records import VideoRecord
from wherewhen.video.sampling import SamplingSpec

FLOW_METHOD = "dis"  # StoreInfo records only whether flow cubes exist, not the method; extraction defaults to DIS


class VideoCubes(NamedTuple):
    """A video's cubes as :meth:`Explainer.cubes` makes them (a tuple: ``record, rgb, flow, display = ...``)."""

    record: FeatureRecord  # the sampled frame indices, clips, fps, size and crop, as a feature store records them
    rgb: torch.Tensor  # float16 (R, D, K, K): one cube per sampled frame
    flow: torch.Tensor | None  # the same for the flow images, for a model that reads flow cubes; else None
    display: dict[int, np.ndarray]  # {frame index: RGB frame at the display size}, the first frames asked for


class Explainer:
    """Explain videos with a trained model.

    >>> explainer = Explainer.from_pretrained("runs/stam")          # a run directory or its model/ folder
    >>> explanation = explainer.explain("video.mp4")
    >>> explanation.label, explanation.top5, explanation.frames[0].box, explanation.segments

    The API:

    - ``Explainer.from_pretrained(directory, device=None, **options)``: load a run (``RUN``) or its saved model
      (``RUN/model``); ``Explainer(model, classes, features, **options)`` takes a model built by hand. The options:
      ``frames`` (rows per clip; from the run's ``run.json``), ``threshold``, ``backbone`` (an already loaded one,
      to share), ``backbone_weights``, ``batch_size``, ``clips_per_batch``, ``sources`` (where extra inputs come
      from; from the run's config).
    - ``explain(video, chosen=None) -> Explanation``: the one entry point for a video file (``chosen``: the cube
      rows of a frame selection, for a model that takes one).
    - ``cubes(video, ...) -> VideoCubes`` and ``explain_cubes(record, rgb, flow=None, chosen=None) -> Explanation``:
      the two halves of ``explain`` (decoding + backbone, then model + boxes + segments); ``explain_cubes`` also
      explains cubes read from a feature store (``FeatureStore.load``).
    - read-only attributes: ``model``, ``classes``, ``features`` (the ``StoreInfo`` of the training cubes),
      ``inputs`` (the extra inputs the model declares), ``sources``, ``threshold``, ``backbone`` (loaded on first
      use), ``notes`` (what the user should know), ``timings`` (seconds of the last explanation: decode, backbone,
      model).

    Long videos: ``explain.sliding.explain_sliding``; the five files: ``explain.writer.explain_to_folder``.
    """

    def __init__(
        self,
        model: VideoModel,
        classes: list[str],
        features: StoreInfo,
        *,
        frames: int | None = None,
        device: str | torch.device | None = None,
        backbone: Backbone | None = None,
        backbone_weights: str | Path | None = None,
        threshold: float | None = None,
        batch_size: int = 64,
        clips_per_batch: int = 16,
        sources: InputSources | None = None,
    ) -> None:
        if len(classes) != model.num_classes:
            raise ConfigError(f"{len(classes)} class names for a model with {model.num_classes} classes")
        if (model.in_channels, model.grid) != (features.channels, features.grid):
            raise ConfigError(
                f"model expects cubes with D={model.in_channels}, K={model.grid} but its features have "
                f"D={features.channels}, K={features.grid}"
            )
        if model.uses_flow and not features.flow:
            raise ConfigError(f"model {model.name!r} needs flow cubes but its feature description has none")
        if threshold is not None and not 0.0 < threshold <= 1.0:
            raise ConfigError(f"--threshold must lie in (0, 1], got {threshold}")
        if frames is not None and frames < 0:
            raise ConfigError(f"--frames must be at least 0, got {frames}")
        self._device = resolve_device(str(device) if device else "auto", option="--device")
        self.model = model.to(self._device).eval()
        self.classes = list(classes)
        self.features = features
        self.threshold = 0.5 if threshold is None else threshold
        self.box_threshold = SpatialConfig(threshold=threshold).for_model(model).box_threshold
        self.inputs = declared_inputs(self.model)
        self.sources = sources or InputSources()
        self.timings: dict[str, float] = {}  # seconds of the last explanation: decode, backbone, model
        # what explain.sliding reads too
        self._plan = ClipPlan(frames=frames or None)
        self._batch_size = batch_size
        self._clips_per_batch = clips_per_batch
        self._sampling, self._resize = sampling_from_info(features)
        # flow cubes only for a model that reads them: a store extracted with flow serves every model, and optical
        # flow plus a second backbone pass over it doubled the work of explaining with a model that ignores them
        self._reads_flow = "flow" in keys_for(self.model)
        self._run_notes: list[str] = []
        self._backbone = backbone.to(self._device).eval() if backbone is not None else None
        self._backbone_weights = backbone_weights

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, device: str | torch.device | None = None, **kwargs: Any
    ) -> Explainer:
        """Load a saved model directory (``RUN/model``) or a run directory (``RUN``).

        Rows per clip default to the ``frames`` of the run's ``run.json`` when there is one, as in evaluation. A
        directory written by another format version is a one-line CheckpointError.
        """
        model_dir = model_directory(directory)
        pretrained = from_pretrained(model_dir)
        kwargs.setdefault("frames", run_frames(model_dir))
        notes = []
        if "sources" not in kwargs and (model_dir.parent / "run.json").is_file():
            try:
                kwargs["sources"] = sources_of_run(model_dir.parent, declared_inputs(pretrained.model))
            except WherewhenError as exc:
                notes.append(f"note: {exc}; every frame counts as chosen")
        explainer = cls(pretrained.model, pretrained.classes, pretrained.features, device=device, **kwargs)
        explainer._run_notes = notes
        return explainer

    @property
    def notes(self) -> list[str]:
        """What the user should know about how this explanation is made (printed by the ``explain`` command)."""
        made = self.features.preprocessing
        if made == PREPROCESSING:
            return list(self._run_notes)
        return [
            *self._run_notes,
            f"note: the model was trained on cubes of {made} frames, from an older wherewhen; explain cuts the "
            f"{PREPROCESSING} first, so its cubes differ from the training cubes by resampling (extract and train "
            "again to match)",
        ]

    @property
    def backbone(self) -> Backbone:
        """The backbone that made the model's cubes, loaded on first use (``backbone=`` shares one already loaded);
        a backbone that would make other cubes is a ConfigError."""
        if self._backbone is None:
            self._backbone = load_backbone(self.features.backbone, self._backbone_weights, self._device)
        spec, info = self._backbone.spec, self.features
        have = (spec.name, spec.input_size, spec.grid, spec.channels, spec.resize)
        want = (info.backbone, info.input_size, info.grid, info.channels, self._resize)
        if have != want:
            raise ConfigError(
                f"backbone {spec.name} ({spec.input_size} px, resize {spec.resize}, {spec.channels}x{spec.grid}x"
                f"{spec.grid}) does not make the cubes the model was trained on ({info.backbone}, {info.input_size} "
                f"px, resize {self._resize}, {info.channels}x{info.grid}x{info.grid})"
            )
        return self._backbone

    def explain(self, video: str | Path, chosen: Sequence[int] | None = None) -> Explanation:
        """Predict the class of ``video`` and say where and when the model looked (``chosen``: the cube rows of a
        frame selection, for a model that takes one).

        Decoding overlaps with the backbone: ``timings["decode"]`` is the time until the last frame was decoded,
        ``timings["backbone"]`` the backbone's time after that."""
        record, rgb, flow, _ = self.cubes(video)
        return self.explain_cubes(record, rgb, flow, chosen)

    def cubes(
        self,
        video: str | Path,
        *,
        info: VideoInfo | None = None,
        display_side: int | None = None,
        display_frames: int = 0,
    ) -> VideoCubes:
        """The cubes of ``video``, made the way the training cubes were (sampling, resize, centre crop, backbone,
        float16), with the backbone running while the video is still being decoded (in a thread); and {frame index:
        frame at ``display_side``} of the first ``display_frames`` sampled frames, converted from the same decoded
        pictures (``info``: the video's probe, when the caller has it). Models on flow cubes decode first, then run
        the backbone (flow needs each frame's neighbour)."""
        if self._reads_flow:
            decoded = self._decode(video, info, display_side, display_frames)
            return VideoCubes(*self._embed(decoded), decoded.display)
        record, dataset = self._decoding(video)
        backbone = self.backbone
        with one_line_errors(record.path):
            info, sampled = dataset.plan(record, info)
            pictures = dataset.pictures(info, list(sampled.frame_indices), None, display_side, display_frames)
            done = embed_while_decoding(backbone, pictures, self._batch_size)
        self.timings["decode"] = done.decode_seconds
        self.timings["backbone"] = done.backbone_seconds
        rgb = torch.stack([done.cubes[i] for i in sampled.frame_indices])
        display = {i: images[0] for i, images in done.extra.items() if images}
        return VideoCubes(dataset.feature_record(record, info, sampled), rgb, None, display)

    def explain_cubes(
        self,
        record: FeatureRecord,
        rgb: torch.Tensor,
        flow: torch.Tensor | None = None,
        chosen: Sequence[int] | None = None,
    ) -> Explanation:
        """``explain`` after the backbone: every clip of ``record`` through the model, then boxes and segments.
        ``rgb`` (and ``flow``, for a model that reads flow cubes) are float16 (R, D, K, K), one cube per row of
        ``record`` (from ``cubes`` or a feature store's ``load``)."""
        start = time.perf_counter()
        prediction = self._predict(record, rgb, flow, chosen)
        self.timings["model"] = time.perf_counter() - start
        return self._assemble(prediction)

    def _decoding(self, video: str | Path) -> tuple[VideoRecord, DecodeDataset]:
        """The record of a video to explain and the decoding that made the model's cubes (sampling, square, flow)."""
        record = VideoRecord(path=Path(video).expanduser().resolve(), label="", split="test")
        flow = FLOW_METHOD if self._reads_flow else None
        return record, DecodeDataset([record], self._sampling, self._resize, self.features.input_size, flow)

    def _decode(
        self, video: str | Path, info: VideoInfo | None = None, display_side: int | None = None, shown: int = 0
    ) -> DecodedVideo:
        """The sampled frames of a video, resized and centre-cropped as extraction does, and its record; with
        ``shown``, the first ``shown`` sampled frames at ``display_side`` too (``DecodeDataset.decode``)."""
        record, dataset = self._decoding(video)
        start = time.perf_counter()
        with one_line_errors(record.path):
            decoded = dataset.decode(record, info, display_side, shown)
        self.timings["decode"] = time.perf_counter() - start
        return decoded

    def _embed(self, decoded: DecodedVideo) -> tuple[FeatureRecord, torch.Tensor, torch.Tensor | None]:
        """(record, rgb float16 (R, D, K, K), flow or None): the backbone over decoded frames, as in extraction."""
        assert decoded.record is not None and decoded.frames is not None
        backbone = self.backbone
        start = time.perf_counter()
        rgb = embed_frames(backbone, [decoded.frames], self._batch_size)[0]
        flow = None
        if decoded.flow_frames is not None:
            flow = embed_frames(backbone, [decoded.flow_frames], self._batch_size)[0]
        self.timings["backbone"] = time.perf_counter() - start
        return decoded.record, rgb, flow

    def _predict(
        self,
        record: FeatureRecord,
        rgb: torch.Tensor,
        flow: torch.Tensor | None = None,
        chosen: Sequence[int] | None = None,
    ) -> VideoPrediction:
        """Every clip of the video's cubes through the model, batched, as evaluation would (``chosen``: the rows
        of a frame selection for a model that takes one, else the run's selection for the video)."""
        sources = self.sources if chosen is None else InputSources(chosen=list(chosen))
        items = []
        for rows in select_clips(record, self._plan):
            index = torch.as_tensor(rows, dtype=torch.long)
            flow_rows = flow[index] if self._reads_flow and flow is not None else None
            extra = clip_inputs(self.inputs, sources, record.video_id, rows)
            items.append((0, np.asarray(rows), rgb[index], flow_rows, extra))
        clips = []
        for first in range(0, len(items), self._clips_per_batch):
            batch = items[first : first + self._clips_per_batch]
            clips.extend(clip for _, clip in forward_clips(self.model, batch))
        return VideoPrediction(record=record, target=None, clips=clips, num_rows=len(record.frame_indices))

    def _assemble(self, prediction: VideoPrediction) -> Explanation:
        """The explanation of one video's model outputs (``explain_cubes``, ``explain.sliding``): the rows some clip
        covered, in time order."""
        record = prediction.record
        probabilities = video_probabilities(prediction, "model")
        maps, covered = prediction.spatial_maps()
        rows = np.flatnonzero(covered)
        timeline = video_timeline(prediction)[0][rows]
        total = timeline.sum()
        weights = timeline / total if total > 0 else np.full(len(rows), 1.0 / len(rows))
        spatial = SpatialConfig(threshold=self.box_threshold)  # boxes as evaluation makes them
        boxes = attention_boxes(
            maps[rows], record.crop, record.frame_size, spatial.box_threshold, spatial.region, spatial.normalize,
            spatial.upsample,
        )  # fmt: skip
        frame_probs = row_frame_probabilities(prediction)
        position = {int(r): p for p, r in enumerate(rows)}
        frames = []
        for p, row in enumerate(rows):
            index = record.frame_indices[row]
            own = None if frame_probs is None else int(np.argmax(frame_probs[row]))
            frames.append(
                FrameExplanation(
                    index=int(index),
                    time_s=index / record.fps,
                    attention=maps[row],
                    box=None if np.isnan(boxes[p]).any() else as_box(boxes[p]),
                    weight=float(weights[p]),
                    frame_label=None if own is None else self.classes[own],
                    frame_confidence=None if frame_probs is None or own is None else float(frame_probs[row, own]),
                )
            )
        order = np.argsort(-probabilities, kind="stable")
        top5 = [(self.classes[i], float(probabilities[i])) for i in order[:5]]
        width, height = record.frame_size
        return Explanation(
            video=VideoSummary(record.video, record.num_frames, record.fps, record.duration, width, height),
            model=self.model.name,
            label=top5[0][0],
            confidence=top5[0][1],
            top5=top5,
            probabilities={c: float(p) for c, p in zip(self.classes, probabilities, strict=True)},
            frames=frames,
            segments=attended_segments(prediction, self.classes, self.threshold),
            crop=as_box(record.crop),
            grid=self.model.grid,
            clips=[[position[int(r)] for r in clip.rows] for clip in prediction.clips],
            threshold=self.threshold,
            box_threshold=self.box_threshold,
        )


@contextmanager
def one_line_errors(path: Path) -> Iterator[None]:
    """A decoder failure the video layer did not anticipate becomes a one-line VideoError naming ``path``."""
    try:
        yield
    except WherewhenError:
        raise
    except Exception as exc:
        raise VideoError(path, f"cannot decode ({type(exc).__name__}: {' '.join(str(exc).split())})") from None


def as_box(values: Sequence[float] | np.ndarray) -> Box:
    """Four numbers as a tuple of Python floats (a box (x1, y1, x2, y2) or a crop (x, y, w, h))."""
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)


def row_frame_probabilities(prediction: VideoPrediction) -> np.ndarray | None:
    """(R, C) each row's own class probabilities, the mean over the clips covering it; None without frame logits."""
    if any(c.frame_probabilities is None for c in prediction.clips):
        return None
    total = np.zeros((prediction.num_rows, prediction.clips[0].probabilities.shape[0]))
    count = np.zeros(prediction.num_rows)
    for clip in prediction.clips:
        np.add.at(total, clip.rows, clip.frame_probabilities)
        np.add.at(count, clip.rows, 1.0)
    return total / np.maximum(count, 1.0)[:, None]


def model_directory(path: str | Path) -> Path:
    """The saved-model folder of ``path``: itself, or ``path/model`` when ``path`` is a run directory."""
    path = Path(path).expanduser()
    if not (path / CONFIG_NAME).is_file() and (path / "model").is_dir():
        return path / "model"
    if not (path / CONFIG_NAME).is_file() and (path / "run.json").is_file():
        raise CheckpointError(path, "this run has saved no model yet (no model/ folder); let training finish an epoch")
    return path


def run_frames(model_dir: Path) -> int | None:
    """T rows per clip of the run that saved ``model_dir`` (its ``../run.json``), or None outside a run."""
    run_dir = Path(model_dir).parent
    if not (run_dir / "run.json").is_file():
        return None
    frames = read_run(run_dir).get("frames")
    return frames if isinstance(frames, int) and frames > 0 else None


def sampling_from_info(info: StoreInfo) -> tuple[SamplingSpec, int]:
    """The sampling (deterministic: TSN takes segment centres) and shorter-side resize a feature store used."""
    if "resize" not in info.sampling:
        raise ConfigError(f"the model's feature description has no 'resize' in its sampling: {info.sampling}")
    known = {f.name for f in fields(SamplingSpec)}
    data = {k: v for k, v in info.sampling.items() if k in known}
    return SamplingSpec(**(data | {"train": False})), int(info.sampling["resize"])
