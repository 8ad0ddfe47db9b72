"""A trained model + its backbone -> an :class:`Explanation` of any video file.

The video goes through exactly the steps that made the training cubes (``wherewhen.features``): probe, sample the
frames the way the model's feature store says (uniform T by default; sliding windows for untrimmed videos), decode
them with the shorter side resized, centre-crop, backbone, float16. The model then sees every clip; with several
clips (sliding windows):

- class probabilities are the mean over clips of ``softmax(logits)`` (video-level, as in evaluation);
- a row's spatial map is the mean of its maps over the clips that contain it;
- a row's temporal weight is the mean over those clips of ``w * T`` (the weight relative to uniform attention, so
  windows are comparable), renormalized to sum to 1 over all rows. With one clip this is the model's own ``w``.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wherewhen.backbones import Backbone, load_backbone
from wherewhen.datasets.records import VideoRecord
from wherewhen.errors import ConfigError
from wherewhen.explain.explanation import Explanation, FrameExplanation, VideoSummary
from wherewhen.explain.localize import attention_box, temporal_segments
from wherewhen.features.decoding import DecodeDataset
from wherewhen.features.extract import _forward, default_device
from wherewhen.features.store import FeatureRecord, StoreInfo
from wherewhen.models import VideoModel
from wherewhen.video.sampling import SamplingSpec

FLOW_METHOD = "dis"  # StoreInfo records only whether flow cubes exist, not the method; extraction defaults to DIS


class Explainer:
    """Explain videos with a trained model.

    >>> explainer = Explainer.from_pretrained("runs/alstm/model")
    >>> explanation = explainer.explain("video.mp4")
    >>> explanation.label, explanation.top5, explanation.frames[0].box, explanation.segments
    """

    def __init__(
        self,
        model: VideoModel,
        classes: list[str],
        features: StoreInfo,
        *,
        device: str | torch.device | None = None,
        backbone: Backbone | None = None,
        backbone_weights: str | Path | None = None,
        threshold: float = 0.5,
        batch_size: int = 64,
        clips_per_batch: int = 16,
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
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"--threshold must lie in (0, 1], got {threshold}")
        self.device = torch.device(device) if device else default_device()
        self.model = model.to(self.device).eval()
        self.classes = list(classes)
        self.features = features
        self.threshold = threshold
        self.batch_size = batch_size
        self.clips_per_batch = clips_per_batch
        self.sampling, self.resize = sampling_from_info(features)
        self._backbone = backbone.to(self.device).eval() if backbone is not None else None
        self._backbone_weights = backbone_weights
        self.timings: dict[str, float] = {}  # seconds of the last explain(): decode, backbone, model

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device | None = None, **kwargs: Any) -> Explainer:
        """Load a saved model directory (``save_pretrained``); a directory from another version is a CheckpointError."""
        from wherewhen.train.pretrained import load_pretrained

        pretrained = load_pretrained(Path(directory))
        return cls(pretrained.model, pretrained.classes, pretrained.features, device=device, **kwargs)

    @property
    def backbone(self) -> Backbone:
        if self._backbone is None:
            self._backbone = load_backbone(self.features.backbone, self._backbone_weights, self.device)
        spec, info = self._backbone.spec, self.features
        have = (spec.name, spec.input_size, spec.grid, spec.channels, spec.resize)
        want = (info.backbone, info.input_size, info.grid, info.channels, self.resize)
        if have != want:
            raise ConfigError(
                f"backbone {spec.name} ({spec.input_size} px, resize {spec.resize}, {spec.channels}x{spec.grid}x"
                f"{spec.grid}) does not make the cubes the model was trained on ({info.backbone}, {info.input_size} "
                f"px, resize {self.resize}, {info.channels}x{info.grid}x{info.grid})"
            )
        return self._backbone

    def cubes(self, video: str | Path) -> tuple[FeatureRecord, torch.Tensor, torch.Tensor | None]:
        """(record, rgb float16 (R, D, K, K), flow or None) of a video, made the way the training cubes were."""
        path = Path(video).expanduser().resolve()
        record = VideoRecord(path=path, label="", split="test")
        flow = FLOW_METHOD if self.features.flow else None
        dataset = DecodeDataset([record], self.sampling, self.resize, self.features.input_size, flow)
        start = time.perf_counter()
        decoded = dataset._decode(record)  # raises the one-line VideoError of a bad video
        assert decoded.record is not None and decoded.frames is not None
        self.timings["decode"] = time.perf_counter() - start
        backbone = self.backbone
        start = time.perf_counter()
        rgb = _forward(backbone, [decoded.frames], self.batch_size)[0]
        flow_cubes = None
        if decoded.flow_frames is not None:
            flow_cubes = _forward(backbone, [decoded.flow_frames], self.batch_size)[0]
        self.timings["backbone"] = time.perf_counter() - start
        return decoded.record, rgb, flow_cubes

    def explain(self, video: str | Path) -> Explanation:
        """Predict the class of ``video`` and say where and when the model looked."""
        record, rgb, flow = self.cubes(video)
        start = time.perf_counter()
        result = self._run_model(record.clips, rgb, flow)
        self.timings["model"] = time.perf_counter() - start
        return self._assemble(record, *result)

    @torch.inference_mode()
    def _run_model(
        self, clips: list[list[int]], rgb: torch.Tensor, flow: torch.Tensor | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(class probabilities (C,), spatial (R, K, K), temporal weights (R,), frame probabilities (R, C) | None)."""
        rows, k, c = len(rgb), self.model.grid, self.model.num_classes
        probabilities = np.zeros(c)
        spatial = np.zeros((rows, k, k))
        timeline = np.zeros(rows)
        frame_probs: np.ndarray | None = None
        covered = np.zeros(rows)
        for first in range(0, len(clips), self.clips_per_batch):
            chunk = clips[first : first + self.clips_per_batch]
            index = torch.as_tensor(chunk, dtype=torch.long)
            x = rgb[index].to(self.device).float()
            fx = None if flow is None or not self.model.uses_flow else flow[index].to(self.device).float()
            out = self.model(x, fx)
            probabilities += out.logits.float().softmax(-1).sum(0).cpu().double().numpy()
            maps = out.spatial.float().cpu().double().numpy()
            weights = out.temporal.float().cpu().double().numpy()
            fp = None if out.frame_logits is None else out.frame_logits.float().softmax(-1).cpu().double().numpy()
            for j, positions in enumerate(chunk):
                pos = np.asarray(positions)
                np.add.at(spatial, pos, maps[j])
                np.add.at(timeline, pos, weights[j] * len(pos))
                np.add.at(covered, pos, 1.0)
                if fp is not None:
                    if frame_probs is None:
                        frame_probs = np.zeros((rows, c))
                    np.add.at(frame_probs, pos, fp[j])
        seen = covered > 0
        spatial[seen] /= covered[seen, None, None]
        timeline[seen] /= covered[seen]
        if frame_probs is not None:
            frame_probs[seen] /= covered[seen, None]
        total = timeline.sum()
        weights_out = timeline / total if total > 0 else np.full(rows, 1.0 / rows)
        return probabilities / len(clips), spatial, weights_out, frame_probs

    def _assemble(
        self,
        record: FeatureRecord,
        probabilities: np.ndarray,
        spatial: np.ndarray,
        weights: np.ndarray,
        frame_probs: np.ndarray | None,
    ) -> Explanation:
        order = np.argsort(-probabilities, kind="stable")
        top5 = [(self.classes[i], float(probabilities[i])) for i in order[:5]]
        frames = []
        for row, index in enumerate(record.frame_indices):
            frame_label = frame_confidence = None
            if frame_probs is not None:
                best = int(np.argmax(frame_probs[row]))
                frame_label, frame_confidence = self.classes[best], float(frame_probs[row, best])
            frames.append(
                FrameExplanation(
                    index=int(index),
                    time_s=index / record.fps,
                    attention=spatial[row],
                    box=attention_box(spatial[row], record.crop, record.frame_size, self.threshold),
                    weight=float(weights[row]),
                    frame_label=frame_label,
                    frame_confidence=frame_confidence,
                )
            )
        times = [f.time_s for f in frames]
        width, height = record.frame_size
        return Explanation(
            video=VideoSummary(record.video, record.num_frames, record.fps, record.duration, width, height),
            model=self.model.name,
            label=top5[0][0],
            confidence=top5[0][1],
            top5=top5,
            probabilities={c: float(p) for c, p in zip(self.classes, probabilities, strict=True)},
            frames=frames,
            segments=temporal_segments(weights, times, record.duration, self.threshold),
            crop=tuple(float(v) for v in record.crop),  # type: ignore[arg-type]
            grid=self.model.grid,
            clips=[list(c) for c in record.clips],
            threshold=self.threshold,
        )


def sampling_from_info(info: StoreInfo) -> tuple[SamplingSpec, int]:
    """The sampling (deterministic: TSN takes segment centres) and shorter-side resize a feature store used."""
    known = {f.name for f in fields(SamplingSpec)}
    data = {k: v for k, v in info.sampling.items() if k in known}
    data["train"] = False
    if "resize" not in info.sampling:
        raise ConfigError(f"the model's feature description has no 'resize' in its sampling: {info.sampling}")
    return SamplingSpec(**data), int(info.sampling["resize"])
