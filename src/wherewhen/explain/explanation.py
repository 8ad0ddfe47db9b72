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
from wherewhen.wording import count

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
    box:         tightest box around the region of the upsampled map >= box_threshold x its max that holds the peak
                 (evaluation's ``SpatialConfig``), in original pixels; None when
                 no cell passes.
    weight:      temporal weight of the row; the weights of all rows sum to 1.
    frame_label, frame_confidence: the row's own top class where the model scores frames, else None.
    truth_box:   the ground-truth box of the frame in original pixels, or None (no ground truth, or none here).
    """

    index: int
    time_s: float
    attention: np.ndarray
    box: Box | None
    weight: float
    frame_label: str | None = None
    frame_confidence: float | None = None
    truth_box: Box | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time_s": self.time_s,
            "weight": self.weight,
            "box": None if self.box is None else list(self.box),
            "frame_label": self.frame_label,
            "frame_confidence": self.frame_confidence,
            "truth_box": None if self.truth_box is None else list(self.truth_box),
            "attention": np.asarray(self.attention, dtype=np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameExplanation:
        box, truth = data.get("box"), data.get("truth_box")
        return cls(
            index=int(data["index"]),
            time_s=float(data["time_s"]),
            attention=np.asarray(data["attention"], dtype=np.float64),
            box=None if box is None else box_of(box),
            weight=float(data["weight"]),
            frame_label=data.get("frame_label"),
            frame_confidence=None if data.get("frame_confidence") is None else float(data["frame_confidence"]),
            truth_box=None if truth is None else box_of(truth),
        )


def box_of(values: list[Any]) -> Box:
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))


@dataclass
class AttendedSegment:
    """A stretch of the video the model attended to (``evaluate.temporal.video_segments``): rows with temporal
    weight >= threshold x the mean weight, gaps shorter than two rows closed, single rows dropped; score = the mean
    over the stretch of weight / max.

    label, confidence: the class of the stretch and its probability: the most probable class of the mean of the
    probabilities of the clips that overlap it (with one clip, the video's prediction). A detection in the
    THUMOS'14 sense is (video, start_s, end_s, label, confidence).
    """

    start_s: float
    end_s: float
    score: float
    label: str | None = None
    confidence: float | None = None


@dataclass
class TruthSummary:
    """How the attention matches the video's ground truth (``wherewhen.explain.truth``).

    source:          the feature store or benchmark folder the ground truth came from.
    frames_with_box: the explained frames that have a ground-truth box.
    peaks_in_box:    of those, the frames whose attention peak (``evaluate.boxes.attention_peaks``, rule ``peak``)
                     lies inside the box, edges included: the pointing game's test.
    segment_weight:  the share of the temporal weight on frames whose time lies in [start, end) of a ground-truth
                     segment; None when the video has no segment.
    """

    source: str
    frames_with_box: int
    peaks_in_box: int
    segment_weight: float | None
    peak: str = "cell"


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
    threshold:     for segments (x the mean temporal weight); box_threshold: for boxes (x the map's max).
    truth_segments: the ground-truth segments (start_s, end_s) of the action; empty without ground truth.
    truth:         how the attention matches the ground truth; None when the video has none.
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
    box_threshold: float = 0.5
    truth_segments: list[tuple[float, float]] = field(default_factory=list)
    truth: TruthSummary | None = None
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
            "box_threshold": self.box_threshold,
            "clips": [list(c) for c in self.clips],
            "segments": [asdict(s) for s in self.segments],
            "truth_segments": [[start, end] for start, end in self.truth_segments],
            "truth": None if self.truth is None else asdict(self.truth),
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
            box_threshold=float(data.get("box_threshold", data.get("threshold", 0.5))),
            truth_segments=[(float(start), float(end)) for start, end in data.get("truth_segments") or []],
            truth=None if data.get("truth") is None else TruthSummary(**data["truth"]),
            format=str(data.get("format", EXPLANATION_FORMAT)),
        )

    @classmethod
    def from_json(cls, text: str) -> Explanation:
        return cls.from_dict(json.loads(text))


def truth_line(explanation: Explanation) -> str | None:
    """How the attention matches the ground truth, in one line (the report states it, ``explain`` prints it); None
    without ground truth."""
    truth = explanation.truth
    if truth is None:
        return None
    parts = []
    if truth.frames_with_box:
        parts.append(
            f"attention peak inside the ground-truth box in {truth.peaks_in_box} of "
            f"{count(truth.frames_with_box, 'frame')}"
        )
    if truth.segment_weight is not None:
        noun = "segment" if len(explanation.truth_segments) == 1 else "segments"
        parts.append(f"{truth.segment_weight:.0%} of the temporal weight inside the ground-truth {noun}")
    return "; ".join(parts) or "no ground-truth box in the explained frames"


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
