"""One video file and what is known about it: label, split, group, temporal segments, boxes.

Dataset readers (``datasets``) make these records; feature extraction (``features``) and explanation read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Segment:
    """A temporal segment of an action, in seconds, half-open [start, end)."""

    start: float
    end: float
    label: str | None = None


@dataclass(frozen=True)
class BoxTrack:
    """Per-frame boxes (x1, y1, x2, y2) in pixels of a frame of size ``frame_size`` (width, height).

    Frame indices are 0-based into the decoded video.
    """

    frame_size: tuple[int, int]
    boxes: dict[int, tuple[float, float, float, float]]
    label: str | None = None

    def scaled(self, width: int, height: int) -> BoxTrack:
        sx, sy = width / self.frame_size[0], height / self.frame_size[1]
        return BoxTrack(
            frame_size=(width, height),
            boxes={f: (x1 * sx, y1 * sy, x2 * sx, y2 * sy) for f, (x1, y1, x2, y2) in self.boxes.items()},
            label=self.label,
        )


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset.

    path:     where the video file is (it may not exist; ``data check`` reports it).
    label:    class name.
    split:    one of SPLITS for the chosen split number.
    group:    videos of one group (person, scene, UCF group) never straddle train and test.
    segments: temporal segments of the action (untrimmed videos).
    tracks:   per-frame boxes of the acting person or object.
    """

    path: Path
    label: str
    split: str = "train"
    group: str | None = None
    segments: tuple[Segment, ...] = ()
    tracks: tuple[BoxTrack, ...] = ()
    video_id: str = ""

    def __post_init__(self) -> None:
        if not self.video_id:
            object.__setattr__(self, "video_id", Path(self.path).stem)
