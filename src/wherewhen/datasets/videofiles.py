"""Finding video files in folders, ordering names naturally, and keeping video ids unique."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

from wherewhen.video.files import file_problem, link_problem
from wherewhen.video.records import VideoRecord

VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv", ".3gp", ".ogv"}
)

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``P2`` before ``P10`` and ``g9`` before ``g10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def scan_videos(folder: Path, recursive: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Video files under ``folder`` (by extension), and the paths skipped with why: those named like videos that
    are not files (a folder, a broken or looping link) and other broken or looping links; both in natural order of
    their relative paths."""
    videos: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in folder.rglob("*") if recursive else folder.iterdir():
        if path.name.startswith("."):
            continue
        problem = file_problem(path) if is_video(path) else link_problem(path)
        if problem is not None:
            skipped.append((path, problem))
        elif is_video(path):
            videos.append(path)

    def order(p: Path) -> tuple[tuple[int, int | str], ...]:
        return natural_key(p.relative_to(folder).as_posix())

    return sorted(videos, key=order), sorted(skipped, key=lambda item: order(item[0]))


def list_videos(folder: Path, recursive: bool = True) -> list[Path]:
    """Video files under ``folder`` (by extension), in natural order of their relative paths."""
    return scan_videos(folder, recursive)[0]


def with_unique_ids(records: list[VideoRecord], root: Path) -> list[VideoRecord]:
    """Records whose ``video_id`` (a file name in the feature store) is unique.

    File stems are kept when they are unique over the whole dataset; otherwise every id becomes the path relative
    to ``root`` without its suffix, with ``/`` replaced by ``__`` (``A1/clip1.avi`` -> ``A1__clip1``).
    """
    counts = Counter(r.video_id for r in records)
    if all(c == 1 for c in counts.values()):
        return records
    out = []
    for r in records:
        try:
            rel = Path(r.path).relative_to(root).with_suffix("")
        except ValueError:
            rel = Path(r.path).with_suffix("")
        out.append(dataclasses.replace(r, video_id=rel.as_posix().replace("/", "__")))
    return out
