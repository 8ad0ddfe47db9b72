"""THUMOS'14 temporal action detection: 20 classes, untrimmed videos, validation set for training.

Layout::

    ROOT/validation/video_validation_*.mp4    validation videos (or all videos directly in ROOT)   (--root)
    ROOT/test/video_test_*.mp4                test videos
    ANNOTATIONS/                              (--annotations; default ROOT/annotations, else ROOT), either
        <Class>_val.txt, <Class>_test.txt     official per-class files "video start end" (seconds), searched
                                              in the folder and its subfolders (the official zips nest them)
        val_Annotation.csv, test_Annotation.csv
                                              the same rows as CSV: video,type,type_idx,start,end,startFrame,endFrame

"Ambiguous" instances are ignored. Only annotated videos become records: one record per video holding all its
segments (each with its own class). The record's label is the class with the most annotated seconds in the video;
an exact tie (every CliffDiving instance is also annotated as Diving) goes to the class annotated in fewer videos,
the more specific one, so CliffDiving videos are labelled CliffDiving. The group is the video itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import read_csv_rows, read_lines, require_dir
from wherewhen.errors import DatasetError
from wherewhen.video.records import Segment, VideoRecord

IGNORED_CLASSES = frozenset({"Ambiguous"})
SUBSETS = {"val": ("train", "validation"), "test": ("test", "test")}  # subset -> (split, video folder)
CSV_FILES = {"val": "val_Annotation.csv", "test": "test_Annotation.csv"}
CSV_COLUMNS = ("video", "type", "start", "end")
_CLASS_FILE = re.compile(r"^(?P<cls>.+)_(?P<subset>val|test)\.txt$")

Annotations = dict[str, list[Segment]]  # video name -> segments


def _segment(path: Path, line_no: int, start: str, end: str, label: str) -> Segment:
    try:
        s, e = float(start), float(end)
    except ValueError:
        raise DatasetError(path, f"start/end must be seconds, got {start!r} {end!r}", line=line_no) from None
    if not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e <= s:
        raise DatasetError(path, f"segment [{start}, {end}] must satisfy 0 <= start < end", line=line_no)
    return Segment(s, e, label)


def iter_class_file(path: Path, label: str) -> Iterator[tuple[int, str, Segment]]:
    """(line number, video, segment) of every line ``video start end`` of an official ``<Class>_<subset>.txt``."""
    for line_no, line in read_lines(path):
        parts = line.split()
        if len(parts) != 3:
            raise DatasetError(path, f"expected 'video start end', got {line!r}", line=line_no)
        yield line_no, parts[0], _segment(path, line_no, parts[1], parts[2], label)


def parse_class_file(path: Path, label: str) -> Annotations:
    out: Annotations = defaultdict(list)
    for _, video, segment in iter_class_file(path, label):
        out[video].append(segment)
    return out


def find_class_files(folder: Path, subset: str) -> dict[str, Path]:
    """{class: path} of every ``<Class>_<subset>.txt`` in ``folder`` and its subfolders."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob(f"*_{subset}.txt")):
        match = _CLASS_FILE.match(path.name)
        if match is None:
            continue
        if match["cls"] in found:
            raise DatasetError(path, f"a second annotation file for {match['cls']} (first: {found[match['cls']]})")
        found[match["cls"]] = path
    return found


def parse_class_files(files: dict[str, Path]) -> Annotations:
    out: Annotations = defaultdict(list)
    for label, path in files.items():
        if label in IGNORED_CLASSES:
            continue
        for video, segments in parse_class_file(path, label).items():
            out[video] += segments
    return out


def parse_annotation_csv(path: Path) -> Annotations:
    """``video,type,...,start,end,...`` rows (header required); ``Ambiguous`` rows dropped."""
    rows = read_csv_rows(path)
    if not rows:
        raise DatasetError(path, "empty annotation file")
    header_line, header = rows[0]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise DatasetError(path, f"header lacks column(s) {', '.join(missing)}", line=header_line)
    col = {c: header.index(c) for c in CSV_COLUMNS}
    out: Annotations = defaultdict(list)
    for line_no, cells in rows[1:]:
        if len(cells) != len(header):
            raise DatasetError(path, f"expected {len(header)} fields, got {len(cells)}", line=line_no)
        video, label = cells[col["video"]], cells[col["type"]]
        if not video or not label:
            raise DatasetError(path, "empty video or type", line=line_no)
        if label in IGNORED_CLASSES:
            continue
        out[video].append(_segment(path, line_no, cells[col["start"]], cells[col["end"]], label))
    return out


def video_label(segments: list[Segment], videos_per_class: Counter[str]) -> str:
    """The class with most annotated seconds; ties go to the class in fewer videos, then to the first name."""
    seconds: dict[str, float] = defaultdict(float)
    for s in segments:
        seconds[str(s.label)] += s.end - s.start
    return min(seconds, key=lambda c: (-round(seconds[c], 6), videos_per_class[c], c))


def build_records(annotations: Annotations, split: str, video_dir: Path, ext: str = ".mp4") -> list[VideoRecord]:
    videos_per_class = Counter(label for segs in annotations.values() for label in {s.label for s in segs})
    records = []
    for video in sorted(annotations):
        segments = sorted(annotations[video], key=lambda s: (s.start, s.end, str(s.label)))
        records.append(
            VideoRecord(
                path=video_dir / f"{video}{ext}",
                label=video_label(segments, videos_per_class),
                split=split,
                group=video,
                segments=tuple(segments),
                video_id=video,
            )
        )
    return records


def read_annotations(folder: Path) -> dict[str, Annotations]:
    """{"val": ..., "test": ...} from the CSV pair if present, else from the per-class text files."""
    csvs = {subset: folder / name for subset, name in CSV_FILES.items()}
    if any(p.is_file() for p in csvs.values()):
        return {subset: parse_annotation_csv(path) for subset, path in csvs.items()}
    out = {}
    for subset in SUBSETS:
        files = find_class_files(folder, subset)
        if not files:
            raise DatasetError(folder, f"no <Class>_{subset}.txt files and no {CSV_FILES[subset]}; pass --annotations")
        out[subset] = parse_class_files(files)
    return out


def read_thumos14(root: Path, split: int | str = 1, annotations: Path | None = None) -> DatasetIndex:
    """THUMOS'14: annotated validation videos as ``train``, annotated test videos as ``test``."""
    check_split_number(split, (1,), "THUMOS'14")
    root = Path(root)
    if annotations is None:
        folder = root / "annotations" if (root / "annotations").is_dir() else root
    else:
        folder = Path(annotations)
    folder = require_dir(folder, "THUMOS'14 annotation folder")
    parsed = read_annotations(folder)
    records: list[VideoRecord] = []
    for subset, (split_name, video_folder) in SUBSETS.items():
        video_dir = root / video_folder if (root / video_folder).is_dir() else root
        records += build_records(parsed[subset], split_name, video_dir)
    classes = sorted({str(s.label) for r in records for s in r.segments})
    return DatasetIndex(classes=classes, records=records)
