"""What every dataset reader yields: one record per video, plus the class list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "val", "test", "unused")


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


@dataclass
class DatasetIndex:
    """A dataset as read from disk: its classes (index = class id) and its video records.

    skipped: paths found in the dataset's folders that are not video files although they stand where videos do (a
    folder named like a video, a broken or looping symbolic link), each with why; ``extract`` and ``data check``
    list them.
    """

    classes: list[str]
    records: list[VideoRecord] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def split(self, name: str) -> list[VideoRecord]:
        return [r for r in self.records if r.split == name]

    def class_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}
