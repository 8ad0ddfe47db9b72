"""The embedded where-and-when benchmark, read with the UCF101, THUMOS'14 and UCF101-24 parsers.

Layout (--root)::

    benchmark.json                           {"frame_size": [w, h], "fps": ..., other generator settings}
    classInd.txt                             "1 ClassName" (UCF101 layout)
    trainlist0N.txt, testlist0N.txt          "ClassName/<stem>.mp4 <1-based label>" / "ClassName/<stem>.mp4"
    videos/ClassName/<stem>.mp4              the videos
    annotations/thumos14/<ClassName>_val.txt    "<stem> <start_s> <end_s>" for train videos
    annotations/thumos14/<ClassName>_test.txt   the same for test videos
    annotations/ucf101_24/pyannot.pkl        {"ClassName/<stem>": {"numf", "label" (0-based), "annotations":
                                             [{"sf", "ef", "label", "boxes" (ef - sf, 4) x, y, w, h}]}} with boxes
                                             in pixels of benchmark.json's frame_size

Records: the video, its class and split from the lists, the segments of its THUMOS lines, and its tracks with
``frame_size`` = benchmark.json's. A segment of a train video in a ``_test.txt`` file (or the reverse), a class
missing from classInd.txt, or an annotation of a video not in the lists is an error naming the file.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import read_text, require_dir
from wherewhen.datasets.thumos14 import find_class_files, iter_class_file
from wherewhen.datasets.ucf101 import parse_split_lists
from wherewhen.datasets.ucf101_24 import load_pickle, parse_annotations
from wherewhen.errors import DatasetError
from wherewhen.video.records import Segment, VideoRecord

SETTINGS_FILE = "benchmark.json"
THUMOS_SUBSETS = {"val": "train", "test": "test"}


def read_settings(path: Path) -> dict[str, Any]:
    """benchmark.json, with ``frame_size`` checked to be two positive integers."""
    try:
        settings = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    size = settings.get("frame_size") if isinstance(settings, dict) else None
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise DatasetError(path, f"frame_size must be [width, height] in pixels, got {size!r}")
    return settings


def read_segments(folder: Path, by_stem: dict[str, VideoRecord], classes: list[str]) -> dict[str, list[Segment]]:
    """{stem: segments} from ``<Class>_val.txt`` (train videos) and ``<Class>_test.txt`` (test videos)."""
    out: dict[str, list[Segment]] = defaultdict(list)
    known = set(classes)
    for subset, split in THUMOS_SUBSETS.items():
        for label, path in find_class_files(folder, subset).items():
            if label not in known:
                raise DatasetError(path, f"class {label!r} is not in classInd.txt")
            for line_no, stem, segment in iter_class_file(path, label):
                record = by_stem.get(stem)
                if record is None:
                    raise DatasetError(path, f"video {stem!r} is in no train or test list", line=line_no)
                if record.split != split:
                    raise DatasetError(path, f"video {stem!r} is a {record.split} video", line=line_no)
                out[stem].append(segment)
    return out


def read_embedded(root: Path, split: int | str = 1) -> DatasetIndex:
    """The embedded benchmark under ``root``: videos with segments and box tracks."""
    number = check_split_number(split, (1, 2, 3), "the embedded benchmark")
    root = require_dir(Path(root), "benchmark folder")
    settings = read_settings(root / SETTINGS_FILE)
    frame_size = (int(settings["frame_size"][0]), int(settings["frame_size"][1]))
    index = parse_split_lists(
        root / "classInd.txt",
        root / f"trainlist0{number}.txt",
        root / f"testlist0{number}.txt",
        root / "videos",
        group_pattern=None,
    )
    by_stem: dict[str, VideoRecord] = {}
    for record in index.records:
        if record.video_id in by_stem:
            raise DatasetError(root / f"trainlist0{number}.txt", f"two videos named {record.video_id!r}")
        by_stem[record.video_id] = record

    thumos_dir = require_dir(root / "annotations" / "thumos14", "THUMOS-layout annotation folder")
    segments = read_segments(thumos_dir, by_stem, index.classes)

    pickle_path = root / "annotations" / "ucf101_24" / "pyannot.pkl"
    _, tubes, _ = parse_annotations(
        pickle_path, load_pickle(pickle_path), classes=index.classes, source_size=frame_size
    )
    tracks = {}
    for key, (_, video_tracks) in tubes.items():
        stem = key.rpartition("/")[2]
        record = by_stem.get(stem)
        if record is None or record.path != root / "videos" / f"{key}{record.path.suffix}":
            raise DatasetError(pickle_path, f"{key}: video is in no train or test list")
        tracks[stem] = video_tracks

    records = [
        dataclasses.replace(
            r,
            segments=tuple(sorted(segments.get(r.video_id, ()), key=lambda s: (s.start, s.end))),
            tracks=tracks.get(r.video_id, ()),
        )
        for r in index.records
    ]
    return DatasetIndex(classes=index.classes, records=records)
