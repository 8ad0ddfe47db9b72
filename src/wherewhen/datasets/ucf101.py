"""UCF101: the official three train/test splits.

Layout (as the official archives unpack)::

    UCF-101/<Class>/v_<Class>_gXX_cYY.avi          the videos              (--root)
    ucfTrainTestlist/classInd.txt                  "1 ApplyEyeMakeup" ...  (--splits; default: ROOT/ucfTrainTestlist,
    ucfTrainTestlist/trainlist0{1,2,3}.txt         "Class/v_..avi N"        ROOT/../ucfTrainTestlist, or ROOT)
    ucfTrainTestlist/testlist0{1,2,3}.txt          "Class/v_..avi"

Files have CRLF line endings. The group of a video is its ``gXX`` (the 25 groups of actors and scenes; the
official splits never put one group in both train and test).
"""

from __future__ import annotations

import re
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import find_first, read_class_list, read_lines
from wherewhen.errors import DatasetError
from wherewhen.video.records import VideoRecord

SPLIT_NUMBERS = (1, 2, 3)
GROUP_PATTERN = re.compile(r"_(g\d+)_c\d+")


def find_splits_dir(root: Path, splits_dir: Path | None) -> Path:
    """The folder holding classInd.txt: ``splits_dir`` if given, else the official places next to ``root``."""
    if splits_dir is not None:
        found = find_first([Path(splits_dir) / "classInd.txt"], "classInd.txt", "--splits DIR")
        return found.parent
    root = Path(root)
    candidates = [root / "ucfTrainTestlist", root.parent / "ucfTrainTestlist", root]
    found = find_first([c / "classInd.txt" for c in candidates], "classInd.txt", "--splits DIR", candidates)
    return found.parent


def _list_entry(path: Path, line_no: int, rel: str, classes: dict[str, int]) -> str:
    """The class folder of a ``Class/file`` entry, checked against the class list."""
    folder, sep, name = rel.replace("\\", "/").partition("/")
    if not sep or not name or "/" in name:
        raise DatasetError(path, f"expected 'Class/video' entry, got {rel!r}", line=line_no)
    if folder not in classes:
        raise DatasetError(path, f"class {folder!r} is not in the class list (classInd.txt)", line=line_no)
    return folder


def _parse_list(
    path: Path, classes: dict[str, int], with_labels: bool, one_based: bool = True
) -> list[tuple[int, str, str]]:
    """(line number, relative path, class) of every entry of a train or test list."""
    entries = []
    offset = 1 if one_based else 0
    for line_no, line in read_lines(path):
        parts = line.split()
        if len(parts) not in ((2,) if with_labels else (1, 2)):
            expected = "'Class/video N'" if with_labels else "'Class/video'"
            raise DatasetError(path, f"expected {expected}, got {line!r}", line=line_no)
        rel = parts[0]
        folder = _list_entry(path, line_no, rel, classes)
        if len(parts) == 2:
            if not parts[1].lstrip("-").isdigit():
                raise DatasetError(path, f"label {parts[1]!r} is not a number", line=line_no)
            number = int(parts[1]) - offset
            if number != classes[folder]:
                raise DatasetError(
                    path,
                    f"label {parts[1]} disagrees with class list: {folder!r} is {classes[folder] + offset}",
                    line=line_no,
                )
        entries.append((line_no, rel, folder))
    return entries


def parse_split_lists(
    class_ind: Path,
    train_list: Path,
    test_list: Path,
    video_root: Path,
    group_pattern: re.Pattern[str] | None = GROUP_PATTERN,
) -> DatasetIndex:
    """Records of one UCF101-style split: train entries from ``train_list``, test entries from ``test_list``.

    Paths in the lists are relative to ``video_root``. A video in both lists, or a class missing from the
    class list, is a DatasetError naming the file and line.
    """
    classes = read_class_list(class_ind)
    index = {c: i for i, c in enumerate(classes)}
    records: list[VideoRecord] = []
    seen: dict[str, tuple[Path, int]] = {}
    for list_path, split, with_labels in ((train_list, "train", True), (test_list, "test", False)):
        for line_no, rel, folder in _parse_list(list_path, index, with_labels):
            if rel in seen:
                other, other_line = seen[rel]
                raise DatasetError(list_path, f"{rel} is also listed in {other}:{other_line}", line=line_no)
            seen[rel] = (list_path, line_no)
            match = group_pattern.search(rel) if group_pattern is not None else None
            records.append(
                VideoRecord(
                    path=video_root / rel,
                    label=folder,
                    split=split,
                    group=match.group(1) if match else None,
                )
            )
    return DatasetIndex(classes=classes, records=records)


def read_ucf101(root: Path, split: int | str = 1, splits_dir: Path | None = None) -> DatasetIndex:
    """UCF101 split ``split`` (1, 2 or 3): 101 classes, train and test records with their ``gXX`` group."""
    number = check_split_number(split, SPLIT_NUMBERS, "UCF101")
    folder = find_splits_dir(Path(root), splits_dir)
    return parse_split_lists(
        folder / "classInd.txt",
        folder / f"trainlist0{number}.txt",
        folder / f"testlist0{number}.txt",
        Path(root),
    )
