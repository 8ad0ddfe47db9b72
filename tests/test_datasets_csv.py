"""Kinetics-style CSV and plain path,label CSV lists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from wherewhen.datasets.csv_lists import read_kinetics, read_path_label
from wherewhen.errors import ConfigError, DatasetError

KINETICS_HEADER = "label,youtube_id,time_start,time_end,split\n"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_kinetics_layout(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "lists",
        {
            "train.csv": KINETICS_HEADER + "abseiling,0347ZoDXyP0,14,24,train\n"
            '"air drumming",--nQbRBEz2s,104,114,train\n',
            "validate.csv": KINETICS_HEADER + "abseiling,0wR5jVB-WPk,417,427,val\n",
            "test.csv": "youtube_id,time_start,time_end,split\n-0bPI4xsy3w,0,10,test\n",  # unlabelled: skipped
        },
    )
    index = read_kinetics(tmp_path / "k400", 1, annotations=folder)
    assert index.classes == ["abseiling", "air drumming"]
    assert Counter(r.split for r in index.records) == {"train": 2, "val": 1}
    first = index.records[0]
    assert first.path == tmp_path / "k400" / "train" / "0347ZoDXyP0_000014_000024.mp4"
    assert first.video_id == "0347ZoDXyP0_000014_000024" and first.group == "0347ZoDXyP0"
    crawler = read_kinetics(
        tmp_path, 1, folder, video_template="{label}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"
    )
    assert crawler.records[1].path == tmp_path / "air drumming" / "--nQbRBEz2s_000104_000114.mp4"


def test_kinetics_errors(tmp_path: Path) -> None:
    bad_row = write(
        tmp_path / "a", {"train.csv": KINETICS_HEADER + "abseiling,abc,14,24,train\nabseiling,def,x,3,train\n"}
    )
    with pytest.raises(DatasetError, match=r"train.csv:3: time_start must be a number of seconds, got 'x'"):
        read_kinetics(tmp_path, 1, bad_row)
    bad_split = write(tmp_path / "b", {"train.csv": KINETICS_HEADER + "abseiling,abc,14,24,holdout\n"})
    with pytest.raises(DatasetError, match=r"train.csv:2: unknown split 'holdout'"):
        read_kinetics(tmp_path, 1, bad_split)
    classes = write(
        tmp_path / "c", {"classes.txt": "abseiling\n", "train.csv": KINETICS_HEADER + "yoga,abc,1,11,train\n"}
    )
    with pytest.raises(DatasetError, match=r"train.csv:2: label 'yoga' is not in the class list"):
        read_kinetics(tmp_path, 1, classes / "train.csv", classes=classes / "classes.txt")
    with pytest.raises(ConfigError, match=r"--video-template '\{name\}.mp4'"):
        read_kinetics(
            tmp_path, 1, write(tmp_path / "d", {"t.csv": KINETICS_HEADER + "a,b,1,2,test\n"}), None, "{name}.mp4"
        )
    with pytest.raises(DatasetError, match=r"train.csv:1: header lacks column\(s\) youtube_id"):
        read_kinetics(tmp_path, 1, write(tmp_path / "e", {"train.csv": "label,id,time_start,time_end\n"}) / "train.csv")


def test_moments_path_label(tmp_path: Path) -> None:
    (tmp_path / "training").mkdir()
    rows = "".join(f"{c}/{c}_{i}.mp4,{c},3,3\n" for c in ("clapping", "yawning") for i in range(10))
    folder = write(tmp_path / "lists", {"trainingSet.csv": rows, "validationSet.csv": "yawning/a.mp4,yawning\n"})
    index = read_path_label(tmp_path, 1, annotations=folder)
    assert index.classes == ["clapping", "yawning"]
    assert Counter(r.split for r in index.records) == {"train": 20, "val": 1}
    assert index.records[0].path == tmp_path / "training" / "clapping" / "clapping_0.mp4"
    assert index.split("val")[0].path == tmp_path / "yawning" / "a.mp4"  # no validation/ folder here


def test_path_label_single_list_gets_a_stratified_split(tmp_path: Path) -> None:
    rows = "path,label\n" + "".join(f"v{c}{i}.mp4,{c}\n" for c in "ab" for i in range(10))
    folder = write(tmp_path, {"videos.csv": rows})
    first = read_path_label(tmp_path, 1, annotations=folder / "videos.csv", test_fraction=0.3)
    again = read_path_label(tmp_path, 1, annotations=folder / "videos.csv", test_fraction=0.3)
    other = read_path_label(tmp_path, 2, annotations=folder / "videos.csv", test_fraction=0.3)
    assert first.records == again.records
    assert Counter((r.label, r.split) for r in first.records) == {
        ("a", "train"): 7,
        ("a", "test"): 3,
        ("b", "train"): 7,
        ("b", "test"): 3,
    }
    assert [r.split for r in first.records] != [r.split for r in other.records]
    write(tmp_path, {"bad.csv": "only-a-path.mp4\n"})
    with pytest.raises(DatasetError, match=r"bad.csv:1: expected 'path,label', got 'only-a-path.mp4'"):
        read_path_label(tmp_path, 1, annotations=tmp_path / "bad.csv")
