"""UCF-11 (UCF YouTube Action): class folders holding group folders; group-wise protocol.

Layout (``UCF11_updated_mpg/`` or the original ``action_youtube_naudi/``; --root)::

    <class>/v_<action>_<GG>/v_<action>_<GG>_<CC>.mpg|.avi     e.g. basketball/v_shooting_01/v_shooting_01_01.mpg

There are no split files: the protocol is leave-one-group-out over the 25 groups GG (videos of one group share
actor, background and viewpoint, so a group never straddles train and test).

``split``: ``N`` (1..25) = group N of every class is test, all other groups train;
``"fixed"`` = groups 1-7 test and 8-25 train (the UCF101 split-1 convention applied to UCF-11's 25 groups).
"""

from __future__ import annotations

import re
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import require_dir
from wherewhen.datasets.videofiles import is_video, natural_key, scan_videos, with_unique_ids
from wherewhen.errors import DatasetError
from wherewhen.video.records import VideoRecord

NUM_GROUPS = 25
FIXED_TEST_GROUPS = frozenset(range(1, 8))
_GROUP_FOLDER = re.compile(r"_(\d+)$")


def read_ucf11(root: Path, split: int | str = 1) -> DatasetIndex:
    """UCF-11 with group ``split`` held out (or the fixed group split); group = the group number, e.g. ``"07"``."""
    root = require_dir(Path(root), "UCF-11 root")
    fixed = str(split).lower() == "fixed"
    held_out = None if fixed else check_split_number(split, range(1, NUM_GROUPS + 1), "UCF-11 (leave one group out)")
    records: list[VideoRecord] = []
    classes: list[str] = []
    skipped: list[tuple[Path, str]] = []
    class_dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for class_dir in sorted(class_dirs, key=lambda p: natural_key(p.name)):
        stray = [p for p in class_dir.iterdir() if p.is_file() and is_video(p)]
        if stray:
            raise DatasetError(stray[0], "UCF-11 videos must be inside a group folder such as <class>/v_<action>_01/")
        class_records = []
        for group_dir in sorted((p for p in class_dir.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
            videos, more = scan_videos(group_dir)
            skipped += more
            if not videos:
                continue  # e.g. an "Annotation" folder
            match = _GROUP_FOLDER.search(group_dir.name)
            if match is None:
                raise DatasetError(group_dir, "group folder name must end in _<group number>, e.g. v_shooting_01")
            number = int(match[1])
            if not 1 <= number <= NUM_GROUPS:
                raise DatasetError(group_dir, f"group number {number} outside 1..{NUM_GROUPS}")
            is_test = number in FIXED_TEST_GROUPS if fixed else number == held_out
            class_records += [
                VideoRecord(path=v, label=class_dir.name, split="test" if is_test else "train", group=f"{number:02d}")
                for v in videos
            ]
        if class_records:
            classes.append(class_dir.name)
            records += class_records
    if not records:
        raise DatasetError(root, "no videos found in <class>/<group>/ folders")
    if held_out is not None and not any(r.split == "test" for r in records):
        raise DatasetError(root, f"no videos of group {held_out:02d}, which --split {split} holds out")
    return DatasetIndex(classes=classes, records=with_unique_ids(records, root), skipped=skipped)
