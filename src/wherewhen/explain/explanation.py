"""What an explanation of one video holds, as plain objects that round-trip through JSON exactly.

Coordinates are in ORIGINAL frame pixels (after the container's rotation); boxes are (x1, y1, x2, y2); the crop
(x, y, w, h) is the region of the frame that the K x K attention grid covers; times are seconds from the start.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wherewhen.errors import WherewhenError
from wherewhen.evaluate.boxes import Box

EXPLANATION_FORMAT = "wherewhen-explanation/1"


class ExplanationFileError(WherewhenError):
    """An explanation.json that is missing, not JSON, of another format version, or malformed."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


@dataclass
class FrameExplanation:
    """One sampled frame (one cube row).

    index:       decoded frame number in the video.
    time_s:      index / fps.
    attention:   (K, K) the model's spatial attention (a distribution or a [0, 1] mask), averaged over the clips
                 that contain the row.
    box:         tightest box around the cells with attention / max >= threshold, in original pixels; None when
                 no cell passes.
    weight:      temporal weight of the row; the weights of all rows sum to 1.
    frame_label, frame_confidence: the row's own top class where the model scores frames, else None.
    """

    index: int
    time_s: float
    attention: np.ndarray
    box: Box | None
    weight: float
    frame_label: str | None = None
    frame_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time_s": self.time_s,
            "weight": self.weight,
            "box": None if self.box is None else list(self.box),
            "frame_label": self.frame_label,
            "frame_confidence": self.frame_confidence,
            "attention": np.asarray(self.attention, dtype=np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameExplanation:
        box = data.get("box")
        return cls(
            index=int(data["index"]),
            time_s=float(data["time_s"]),
            attention=np.asarray(data["attention"], dtype=np.float64),
            box=None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            weight=float(data["weight"]),
            frame_label=data.get("frame_label"),
            frame_confidence=None if data.get("frame_confidence") is None else float(data["frame_confidence"]),
        )


@dataclass
class AttendedSegment:
    """A stretch of the video the model attended to (``evaluate.temporal.video_segments``): rows with temporal
    weight / max >= threshold, gaps shorter than two rows closed, single rows dropped; score = the mean of that
    ratio over the stretch."""

    start_s: float
    end_s: float
    score: float


@dataclass
class VideoSummary:
    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int


@dataclass
class Explanation:
    """Where and when a model looked in one video, and what it predicted.

    label, confidence: the most probable class and its probability.
    top5:          the five most probable (class, probability), best first (fewer with fewer classes).
    probabilities: {class: probability} for every class (the mean over clips of softmax(logits)).
    frames:        the explained frames in time order: the sampled frames some clip covered.
    segments:      the stretches of time the model attended to.
    crop:          (x, y, w, h) the region of the original frame the K x K grid covers; grid: K.
    clips:         the clips the model saw, as positions in ``frames`` (one clip unless the features use sliding
                   windows).
    threshold:     of the max-normalized maps and weights, for boxes and segments.
    """

    video: VideoSummary
    model: str
    label: str
    confidence: float
    top5: list[tuple[str, float]]
    probabilities: dict[str, float]
    frames: list[FrameExplanation]
    segments: list[AttendedSegment]
    crop: tuple[float, float, float, float]
    grid: int
    clips: list[list[int]] = field(default_factory=list)
    threshold: float = 0.5
    format: str = EXPLANATION_FORMAT

    @property
    def times(self) -> np.ndarray:
        return np.array([f.time_s for f in self.frames])

    @property
    def weights(self) -> np.ndarray:
        return np.array([f.weight for f in self.frames])

    @property
    def maps(self) -> np.ndarray:
        """(T, K, K) the attention maps of every row."""
        return np.stack([np.asarray(f.attention) for f in self.frames])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "video": asdict(self.video),
            "model": self.model,
            "label": self.label,
            "confidence": self.confidence,
            "top5": [[c, p] for c, p in self.top5],
            "probabilities": dict(self.probabilities),
            "crop": list(self.crop),
            "grid": self.grid,
            "threshold": self.threshold,
            "clips": [list(c) for c in self.clips],
            "segments": [asdict(s) for s in self.segments],
            "frames": [f.to_dict() for f in self.frames],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        crop = data["crop"]
        return cls(
            video=VideoSummary(**data["video"]),
            model=str(data["model"]),
            label=str(data["label"]),
            confidence=float(data["confidence"]),
            top5=[(str(c), float(p)) for c, p in data["top5"]],
            probabilities={str(k): float(v) for k, v in data["probabilities"].items()},
            frames=[FrameExplanation.from_dict(f) for f in data["frames"]],
            segments=[AttendedSegment(**s) for s in data["segments"]],
            crop=(float(crop[0]), float(crop[1]), float(crop[2]), float(crop[3])),
            grid=int(data["grid"]),
            clips=[[int(i) for i in c] for c in data.get("clips", [])],
            threshold=float(data.get("threshold", 0.5)),
            format=str(data.get("format", EXPLANATION_FORMAT)),
        )

    @classmethod
    def from_json(cls, text: str) -> Explanation:
        return cls.from_dict(json.loads(text))


def load_explanation(path: str | Path) -> Explanation:
    """Read an ``explanation.json`` written by ``wherewhen explain``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExplanationFileError(path, "no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExplanationFileError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != EXPLANATION_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ExplanationFileError(path, f"format {got!r} is not {EXPLANATION_FORMAT!r}")
    try:
        return Explanation.from_dict(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ExplanationFileError(path, f"malformed explanation ({type(exc).__name__}: {exc})") from None
