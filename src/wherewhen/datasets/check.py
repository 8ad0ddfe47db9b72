"""Checking a dataset before extraction: counts per class and split, missing and unreadable videos, and
annotations that point past the end of their video.

Probing opens each existing video with :func:`wherewhen.video.probe.probe` (frame count and duration from the
container, the first frame decoded), so a corrupt file shows up here rather than
hours into an extraction job. Headers can be off by a frame, so an annotation is reported past the end only when
it ends more than one frame after the last frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wherewhen.datasets.records import SPLITS, DatasetIndex
from wherewhen.errors import VideoError
from wherewhen.video.files import file_problem
from wherewhen.video.records import VideoRecord


@dataclass(frozen=True)
class VideoLength:
    num_frames: int
    fps: float
    duration: float


@dataclass
class CheckReport:
    """What ``data check`` found. ``ok`` when every video exists, decodes, and holds its annotations."""

    classes: list[str]
    counts: Counter[tuple[str, str]]
    groups: int
    videos: int
    probed: int = 0
    missing: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # DatasetIndex.skipped: not video files
    past_end: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        present = {split for _, split in self.counts}
        return [s for s in SPLITS if s in present]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unreadable or self.skipped or self.past_end)


def probe_length(path: Path) -> VideoLength:
    """Frame count, frame rate and duration of a video, cheaply; a VideoError when it cannot be decoded."""
    from wherewhen.video.probe import probe  # PyAV only when probing: the command line imports this module at start

    info = probe(path)
    return VideoLength(info.num_frames, info.fps, info.duration)


def annotation_overruns(record: VideoRecord, length: VideoLength) -> list[str]:
    """Descriptions of the segments and box frames of ``record`` that lie past the end of the video."""
    problems = []
    frame_time = 1.0 / length.fps if length.fps > 0 else 0.0
    for segment in record.segments:
        if segment.end > length.duration + frame_time:
            problems.append(
                f"segment [{segment.start:g}, {segment.end:g}] s ends after the video's {length.duration:.2f} s"
            )
    for k, track in enumerate(record.tracks):
        last = max(track.boxes, default=-1)
        if last >= length.num_frames + 1:
            problems.append(f"track {k} has a box on frame {last}, past the video's {length.num_frames} frames")
    return problems


def count(index: DatasetIndex) -> Counter[tuple[str, str]]:
    return Counter((r.label, r.split) for r in index.records)


def check_dataset(index: DatasetIndex, probe: bool = True, progress: bool = False) -> CheckReport:
    """Existence of every video, and with ``probe`` whether it decodes and covers its annotations."""
    counts = count(index)
    report = CheckReport(
        classes=list(index.classes),
        counts=counts,
        groups=len({r.group for r in index.records if r.group is not None}),
        videos=len(index.records),
        skipped=list(index.skipped),
    )
    for label in index.classes:
        if counts[(label, "train")] == 0:
            report.notes.append(f"class {label!r} has no training video")
    unknown = sorted({r.label for r in index.records} - set(index.classes))
    if unknown:
        report.notes.append(f"labels not in the class list: {', '.join(unknown)}")
    existing: list[VideoRecord] = []
    for record in index.records:
        problem = file_problem(Path(record.path))
        if problem is None:
            existing.append(record)
        elif problem == "no such file":
            report.missing.append(Path(record.path))
        else:  # a folder, a broken or looping link
            report.unreadable.append((Path(record.path), problem))
    if probe:
        for record in _progress(existing, progress):
            try:
                length = probe_length(Path(record.path))
            except VideoError as exc:
                report.unreadable.append((Path(record.path), exc.problem))
                continue
            report.probed += 1
            report.past_end += [(Path(record.path), p) for p in annotation_overruns(record, length)]
    return report


def _progress(records: list[VideoRecord], enabled: bool) -> Iterable[VideoRecord]:
    if not enabled or not records:
        return records

    from wherewhen.progress import progress_bar  # tqdm only when probing: the command line imports this module at start

    return progress_bar(records, desc="probing videos", unit="video", leave=False)
