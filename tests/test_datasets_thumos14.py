"""THUMOS'14 temporal annotations, official per-class text layout and CSV: 3007 / 3358 instances, 20 classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherewhen.datasets.thumos14 import read_thumos14
from wherewhen.errors import DatasetError


@pytest.fixture(scope="module")
def thumos_dir(shared_data: Path) -> Path:
    return shared_data / "annotations" / "thumos14"


@pytest.mark.parametrize("layout", ["csv", "txt"])
def test_official_counts(thumos_dir: Path, tmp_path: Path, layout: str) -> None:
    annotations = thumos_dir if layout == "csv" else thumos_dir / "regenerated_official_format"
    (tmp_path / "validation").mkdir()
    (tmp_path / "test").mkdir()
    index = read_thumos14(tmp_path, 1, annotations=annotations)
    assert len(index.classes) == 20 and "Ambiguous" not in index.classes
    train, test = index.split("train"), index.split("test")
    assert sum(len(r.segments) for r in train) == 3007
    assert sum(len(r.segments) for r in test) == 3358
    assert (len(train), len(test)) == (200, 212)
    assert all(s.label in index.classes for r in index.records for s in r.segments)
    video = next(r for r in train if r.video_id == "video_validation_0000051")
    assert video.path == tmp_path / "validation" / "video_validation_0000051.mp4"
    assert video.label == "Billiards" and video.group == "video_validation_0000051"
    assert (video.segments[0].start, video.segments[0].end) == (67.5, 75.9)
    assert next(r for r in test if r.video_id == "video_test_0000004").path.parent == tmp_path / "test"


def test_both_layouts_agree_and_multi_class_labels(thumos_dir: Path, tmp_path: Path) -> None:
    from_csv = read_thumos14(tmp_path, 1, annotations=thumos_dir)
    from_txt = read_thumos14(tmp_path, 1, annotations=thumos_dir / "regenerated_official_format")
    assert from_csv.records == from_txt.records
    labels = {r.video_id: r.label for r in from_csv.records}
    # every CliffDiving instance is also annotated Diving: the tie goes to the more specific class
    assert labels["video_validation_0000162"] == "CliffDiving"
    # otherwise the class with most annotated seconds: 104.2 s PoleVault against 3.5 s LongJump
    assert labels["video_validation_0000665"] == "PoleVault"
    assert {r.label for r in from_csv.split("train")} == set(from_csv.classes)


def write_class_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_bad_annotations(tmp_path: Path) -> None:
    good = {"Diving_val.txt": "video_validation_1 1.0 2.5\n", "Diving_test.txt": "video_test_1 0.5 1.0\n"}
    folder = write_class_files(tmp_path / "a", {**good, "Ambiguous_val.txt": "video_validation_1 3 4\n"})
    index = read_thumos14(tmp_path, 1, annotations=folder)
    assert index.classes == ["Diving"] and [len(r.segments) for r in index.records] == [1, 1]

    folder = write_class_files(tmp_path / "b", {**good, "Diving_test.txt": "video_test_1 0.5 1.0\nvideo_test_2 4.0\n"})
    with pytest.raises(DatasetError, match=r"Diving_test.txt:2: expected 'video start end', got 'video_test_2 4.0'"):
        read_thumos14(tmp_path, 1, annotations=folder)
    folder = write_class_files(tmp_path / "c", {**good, "Diving_val.txt": "video_validation_1 5.0 2.0\n"})
    with pytest.raises(DatasetError, match=r"Diving_val.txt:1: segment \[5.0, 2.0\] must satisfy 0 <= start < end"):
        read_thumos14(tmp_path, 1, annotations=folder)
    folder = write_class_files(tmp_path / "d", {"Diving_val.txt": "video_validation_1 1 2\n"})
    with pytest.raises(DatasetError, match=r"no <Class>_test.txt files and no test_Annotation.csv"):
        read_thumos14(tmp_path, 1, annotations=folder)

    header = "video,type,type_idx,start,end,startFrame,endFrame\n"
    folder = write_class_files(
        tmp_path / "e",
        {"val_Annotation.csv": header + "video_validation_1,Diving,26,1.0,x,30,60\n", "test_Annotation.csv": header},
    )
    with pytest.raises(DatasetError, match=r"val_Annotation.csv:2: start/end must be seconds, got '1.0' 'x'"):
        read_thumos14(tmp_path, 1, annotations=folder)
    folder = write_class_files(tmp_path / "f", {"val_Annotation.csv": "video,kind,start,end\n"})
    with pytest.raises(DatasetError, match=r"val_Annotation.csv:1: header lacks column\(s\) type"):
        read_thumos14(tmp_path, 1, annotations=folder)
    with pytest.raises(DatasetError, match=r"THUMOS'14 annotation folder not found"):
        read_thumos14(tmp_path / "nowhere", 1)
