"""UCF101 split files: the official counts from the real files, and one-line errors on bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherewhen.datasets.registry import read_dataset
from wherewhen.datasets.ucf101 import read_ucf101
from wherewhen.errors import ConfigError, DatasetError

OFFICIAL = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}


@pytest.fixture(scope="module")
def ucf101_splits(shared_data: Path) -> Path:
    return shared_data / "splits" / "ucf101"


@pytest.mark.parametrize("split", [1, 2, 3])
def test_official_counts(ucf101_splits: Path, tmp_path: Path, split: int) -> None:
    index = read_ucf101(tmp_path / "UCF-101", split, splits_dir=ucf101_splits)
    train, test = index.split("train"), index.split("test")
    assert (len(train), len(test)) == OFFICIAL[split]
    assert len(index.classes) == 101
    assert index.classes[0] == "ApplyEyeMakeup" and index.classes[-1] == "YoYo"
    assert len({r.video_id for r in index.records}) == 13320
    # the official splits are group-wise: split N tests on groups 7(N-1)+1 .. 7N and trains on the other 18
    train_groups, test_groups = {r.group for r in train}, {r.group for r in test}
    assert test_groups == {f"g{g:02d}" for g in range(7 * (split - 1) + 1, 7 * split + 1)}
    assert train_groups == {f"g{g:02d}" for g in range(1, 26)} - test_groups
    # CRLF line endings leave no stray carriage returns
    assert all("\r" not in c for c in index.classes)
    first = train[0]
    assert first.path == tmp_path / "UCF-101" / first.label / f"{first.video_id}.avi"
    assert first.video_id.startswith(f"v_{first.label.replace('Handstand', 'HandStand')}_g")


def test_registry_and_default_splits_location(ucf101_splits: Path, tmp_path: Path) -> None:
    # the official layout: ucfTrainTestlist/ next to UCF-101/
    (tmp_path / "UCF-101").mkdir()
    (tmp_path / "ucfTrainTestlist").symlink_to(ucf101_splits)
    index = read_dataset("ucf101", tmp_path / "UCF-101", "2")
    assert len(index.split("train")) == 9586


def write_lists(folder: Path, classes: str, train: str, test: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classInd.txt").write_bytes(classes.encode())
    (folder / "trainlist01.txt").write_bytes(train.encode())
    (folder / "testlist01.txt").write_bytes(test.encode())
    return folder


GOOD_CLASSES = "1 Archery\r\n2 Bowling\r\n"


def test_small_crlf_lists_parse(tmp_path: Path) -> None:
    folder = write_lists(
        tmp_path,
        GOOD_CLASSES,
        "Archery/v_Archery_g08_c01.avi 1\r\nBowling/v_Bowling_g09_c02.avi 2\r\n",
        "Archery/v_Archery_g01_c01.avi\r\n",
    )
    index = read_ucf101(tmp_path / "videos", 1, splits_dir=folder)
    assert index.classes == ["Archery", "Bowling"]
    assert [(r.label, r.split, r.group) for r in index.records] == [
        ("Archery", "train", "g08"),
        ("Bowling", "train", "g09"),
        ("Archery", "test", "g01"),
    ]


@pytest.mark.parametrize(
    ("train", "test", "where", "problem"),
    [
        (
            "Archery/v_Archery_g08_c01.avi 1\r\nDancing/v_Dancing_g08_c01.avi 3\r\n",
            "",
            "trainlist01.txt:2",
            "'Dancing'",
        ),
        ("Archery/v_Archery_g08_c01.avi 1\r\n", "Dancing/v_Dancing_g01_c01.avi\r\n", "testlist01.txt:1", "class list"),
        ("Archery/v_Archery_g08_c01.avi 2\r\n", "", "trainlist01.txt:1", "disagrees with class list"),
        ("Archery/v_Archery_g08_c01.avi\r\n", "", "trainlist01.txt:1", "expected 'Class/video N'"),
        ("v_Archery_g08_c01.avi 1\r\n", "", "trainlist01.txt:1", "expected 'Class/video'"),
        ("Archery/v_Archery_g08_c01.avi one\r\n", "", "trainlist01.txt:1", "not a number"),
        ("Archery/v_Archery_g08_c01.avi 1\r\n", "Archery/v_Archery_g08_c01.avi\r\n", "testlist01.txt:1", "also listed"),
    ],
)
def test_bad_lists_name_file_and_line(tmp_path: Path, train: str, test: str, where: str, problem: str) -> None:
    folder = write_lists(tmp_path, GOOD_CLASSES, train, test)
    with pytest.raises(DatasetError) as info:
        read_ucf101(tmp_path, 1, splits_dir=folder)
    message = str(info.value)
    assert where in message and problem in message and "\n" not in message


def test_bad_class_list_and_missing_files(tmp_path: Path) -> None:
    folder = write_lists(tmp_path / "a", "1 Archery\r\n3 Bowling\r\n", "", "")
    with pytest.raises(DatasetError, match=r"classInd.txt:2: class number 3 out of order"):
        read_ucf101(tmp_path, 1, splits_dir=folder)
    folder = write_lists(tmp_path / "b", GOOD_CLASSES, "", "")
    (folder / "testlist01.txt").unlink()
    with pytest.raises(DatasetError, match=r"testlist01.txt: file not found"):
        read_ucf101(tmp_path, 1, splits_dir=folder)
    with pytest.raises(DatasetError, match=r"classInd.txt not found here nor in .*; pass --splits DIR"):
        read_ucf101(tmp_path / "nowhere", 1)
    with pytest.raises(ConfigError, match="UCF101 has splits 1, 2, 3; got --split 4"):
        read_ucf101(tmp_path, 4, splits_dir=folder)
