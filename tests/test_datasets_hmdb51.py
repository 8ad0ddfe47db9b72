"""HMDB51 split files: 70 train / 30 test per class in every official split; unused videos never train."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from wherewhen.datasets.hmdb51 import read_hmdb51
from wherewhen.errors import DatasetError


@pytest.mark.parametrize("split", [1, 2, 3])
def test_official_counts(shared_data: Path, tmp_path: Path, split: int) -> None:
    index = read_hmdb51(tmp_path / "hmdb51", split, splits_dir=shared_data / "splits" / "hmdb51")
    assert len(index.classes) == 51
    assert len(index.records) == 6766
    counts = Counter((r.label, r.split) for r in index.records)
    for label in index.classes:
        assert counts[(label, "train")] == 70, label
        assert counts[(label, "test")] == 30, label
    unused = index.split("unused")
    assert len(unused) == 6766 - 51 * 100
    assert not {r.video_id for r in unused} & {r.video_id for r in index.split("train")}
    first = index.records[0]
    assert first.path.parent == tmp_path / "hmdb51" / first.label and first.path.suffix == ".avi"


def test_default_splits_location(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "hmdb51").mkdir()
    (tmp_path / "testTrainMulti_7030_splits").symlink_to(shared_data / "splits" / "hmdb51")
    assert len(read_hmdb51(tmp_path / "hmdb51", 2).split("test")) == 51 * 30


def write_split(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_bad_split_files(tmp_path: Path) -> None:
    write_split(tmp_path, "hug_test_split1.txt", "a.avi 1 \nb.avi 2 \nc.avi 0 \n")
    write_split(tmp_path, "kiss_test_split1.txt", "d.avi 1 \ne.avi 3 \n")
    with pytest.raises(DatasetError, match=r"kiss_test_split1.txt:2: expected '<video>.avi 0\|1\|2', got 'e.avi 3'"):
        read_hmdb51(tmp_path, 1, splits_dir=tmp_path)
    write_split(tmp_path, "kiss_test_split1.txt", "d.avi 1 \na.avi 2 \n")
    with pytest.raises(DatasetError, match=r"kiss_test_split1.txt:2: a.avi is also listed in .*hug_test_split1.txt:1"):
        read_hmdb51(tmp_path, 1, splits_dir=tmp_path)
    write_split(tmp_path, "kiss_test_split1.txt", "d.avi 1 \ne.avi 2 \n")
    index = read_hmdb51(tmp_path, 1, splits_dir=tmp_path)
    assert [(r.label, r.split) for r in index.records] == [
        ("hug", "train"),
        ("hug", "test"),
        ("hug", "unused"),
        ("kiss", "train"),
        ("kiss", "test"),
    ]
    write_split(tmp_path, "class_list.txt", "hug\nkiss\nwave\n")
    with pytest.raises(DatasetError, match=r"class_list.txt: disagrees with the split files: lists 'wave'"):
        read_hmdb51(tmp_path, 1, splits_dir=tmp_path)
    write_split(tmp_path, "class_list.txt", "hug\nkiss\n")
    write_split(tmp_path, "hug_test_split2.txt", "a.avi 1 \n")
    with pytest.raises(DatasetError, match=r"kiss_test_split2.txt: split file missing for this class"):
        read_hmdb51(tmp_path, 2, splits_dir=tmp_path)
    with pytest.raises(DatasetError, match=r"no <class>_test_split1.txt files found"):
        read_hmdb51(tmp_path / "elsewhere", 1)
