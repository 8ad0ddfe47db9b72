"""Videos named on the command line: files, folders (a folder per class, or flat), or list files.

A list file (.txt or .csv) holds one video per line: ``path`` or ``path,label`` (or ``path label``); relative
paths are relative to the list file. A folder whose videos sit in sub-folders is read as a folder per class;
a flat folder gives unlabelled videos.
"""

from __future__ import annotations

from pathlib import Path

from wherewhen.datasets.folder import read_folder
from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.textfiles import read_lines
from wherewhen.datasets.videofiles import is_video, natural_key, scan_videos, with_unique_ids
from wherewhen.errors import ConfigError, DatasetError
from wherewhen.video.records import VideoRecord

LIST_SUFFIXES = {".txt", ".csv", ".lst", ".list"}


def records_from_inputs(inputs: list[Path]) -> DatasetIndex:
    if not inputs:
        raise ConfigError("name at least one video, folder or list file (or use --dataset FORMAT --root DIR)")
    records: list[VideoRecord] = []
    skipped: list[tuple[Path, str]] = []
    for item in inputs:
        item = Path(item).expanduser()
        if item.is_dir():
            found = _folder(item)
            records += found.records
            skipped += found.skipped
        elif item.suffix.lower() in LIST_SUFFIXES:
            records += _list_file(item)
        else:  # a file, or a path that is not one: extraction records why it cannot be read
            records.append(VideoRecord(path=item, label="", split="test"))
    labels = sorted({r.label for r in records if r.label}, key=natural_key)
    common = Path(*_common_parts([Path(r.path) for r in records])) if records else Path(".")
    return DatasetIndex(classes=labels, records=with_unique_ids(records, common), skipped=skipped)


def _folder(folder: Path) -> DatasetIndex:
    videos, skipped = scan_videos(folder)
    if not videos:
        raise DatasetError(folder, "no video files found (looked for .avi, .mp4, .mkv, .mov, .webm, ...)")
    if any(v.parent != folder for v in videos):
        return read_folder(folder)
    return DatasetIndex([], [VideoRecord(path=v, label="", split="test") for v in videos], skipped)


def _list_file(path: Path) -> list[VideoRecord]:
    out = []
    for line_no, line in read_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = [p.strip() for p in (text.split(",") if "," in text else text.split(None, 1))]
        video = Path(parts[0]).expanduser()
        if not video.is_absolute():
            video = path.parent / video
        if not is_video(video):
            raise DatasetError(path, f"{parts[0]!r} does not look like a video file name", line=line_no)
        out.append(VideoRecord(path=video, label=parts[1] if len(parts) > 1 else "", split="test"))
    if not out:
        raise DatasetError(path, "lists no videos")
    return out


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop; extraction reports it as that video's failure
        return path.absolute()


def _common_parts(paths: list[Path]) -> tuple[str, ...]:
    parts = [_resolved(p).parent.parts for p in paths]
    common: list[str] = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return tuple(common) or ("/",)
