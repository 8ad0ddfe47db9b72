"""What every dataset reader yields: the class list and one ``VideoRecord`` (``video.records``) per video."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wherewhen.video.records import VideoRecord

SPLITS = ("train", "val", "test", "unused")


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
