"""HMDB51: the official three 70/30 splits.

Layout (as the official archives unpack)::

    hmdb51/<class>/<video>.avi                           the videos (--root)
    testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt
                                                         "<video>.avi N" with N: 1 train, 2 test, 0 unused
                                                         (--splits; default: ROOT/testTrainMulti_7030_splits,
                                                          ROOT/../testTrainMulti_7030_splits, ROOT/splits or ROOT)
    optional class_list.txt next to the split files      one class per line; must name the same classes

Classes are the split files' class names in sorted order. Videos marked 0 get split ``unused`` and never go to
training.
"""

from __future__ import annotations

import re
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import read_class_list, read_lines
from wherewhen.errors import DatasetError
from wherewhen.video.records import VideoRecord

SPLIT_NUMBERS = (1, 2, 3)
SPLIT_CODES = {"0": "unused", "1": "train", "2": "test"}
_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<n>\d+)\.txt$")


def find_splits_dir(root: Path, splits_dir: Path | None) -> Path:
    root = Path(root)
    if splits_dir is not None:
        candidates = [Path(splits_dir)]
    else:
        candidates = [
            root / "testTrainMulti_7030_splits",
            root.parent / "testTrainMulti_7030_splits",
            root / "splits",
            root,
        ]
    for folder in candidates:
        if folder.is_dir() and any(_SPLIT_FILE.match(p.name) for p in folder.iterdir()):
            return folder
    places = ", ".join(str(c) for c in candidates)
    raise DatasetError(candidates[0], f"no <class>_test_split1.txt files found (looked in {places}); pass --splits DIR")


def split_files(folder: Path, number: int) -> dict[str, Path]:
    """{class: split file} for split ``number``; every class with any split file must have this one."""
    by_class: dict[str, set[int]] = {}
    for p in folder.iterdir():
        match = _SPLIT_FILE.match(p.name)
        if match:
            by_class.setdefault(match["cls"], set()).add(int(match["n"]))
    missing = sorted(c for c, numbers in by_class.items() if number not in numbers)
    if missing:
        raise DatasetError(folder / f"{missing[0]}_test_split{number}.txt", "split file missing for this class")
    return {c: folder / f"{c}_test_split{number}.txt" for c in sorted(by_class)}


def read_hmdb51(root: Path, split: int | str = 1, splits_dir: Path | None = None) -> DatasetIndex:
    """HMDB51 split ``split`` (1, 2 or 3): 51 classes; each video is train, test or unused."""
    number = check_split_number(split, SPLIT_NUMBERS, "HMDB51")
    root = Path(root)
    folder = find_splits_dir(root, splits_dir)
    files = split_files(folder, number)
    classes = sorted(files)
    class_list = folder / "class_list.txt"
    if class_list.is_file():
        listed = read_class_list(class_list)
        extra, absent = sorted(set(listed) - set(classes)), sorted(set(classes) - set(listed))
        if extra or absent:
            problem = f"lists {extra[0]!r} which has no split file" if extra else f"lacks class {absent[0]!r}"
            raise DatasetError(class_list, f"disagrees with the split files: {problem}")
    records: list[VideoRecord] = []
    seen: dict[str, tuple[Path, int]] = {}
    for cls, path in files.items():
        for line_no, line in read_lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in SPLIT_CODES:
                raise DatasetError(path, f"expected '<video>.avi 0|1|2', got {line!r}", line=line_no)
            name = parts[0]
            if name in seen:
                other, other_line = seen[name]
                raise DatasetError(path, f"{name} is also listed in {other}:{other_line}", line=line_no)
            seen[name] = (path, line_no)
            records.append(VideoRecord(path=root / cls / name, label=cls, split=SPLIT_CODES[parts[1]]))
    return DatasetIndex(classes=classes, records=records)
