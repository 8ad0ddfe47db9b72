"""UCF101-24 box tubes from the real pyannot.pkl: 3194 videos, 4458 tubes, per-frame boxes in any frame size."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.ucf101_24 import read_ucf101_24
from wherewhen.errors import DatasetError

VIDEOS = Path("/data/UCF-101")  # need not exist for parsing


@pytest.fixture(scope="module")
def annotations(shared_data: Path) -> Path:
    return shared_data / "annotations" / "ucf101_24"


@pytest.fixture(scope="module")
def native_index(annotations: Path) -> DatasetIndex:
    return read_ucf101_24(VIDEOS, 1, annotations=annotations)


def test_official_counts(annotations: Path, native_index: DatasetIndex) -> None:
    index = native_index
    assert len(index.records) == 3194
    assert sum(len(r.tracks) for r in index.records) == 4458
    assert len(index.classes) == 24 and index.classes[0] == "Basketball" and index.classes[-1] == "WalkingWithDog"
    assert (len(index.split("train")), len(index.split("test"))) == (2284, 910)

    raw = pickle.load((annotations / "pyannot.pkl").open("rb"), encoding="latin1")
    record = next(r for r in index.records if r.video_id == "v_Basketball_g01_c01")
    assert record.path == VIDEOS / "Basketball" / "v_Basketball_g01_c01.avi"
    assert record.group == "g01" and record.split == "test"
    tube = raw["Basketball/v_Basketball_g01_c01"]["annotations"][0]
    track = record.tracks[0]
    assert track.frame_size == (320, 240) and track.label == "Basketball"
    assert sorted(track.boxes) == list(range(tube["sf"], tube["ef"]))
    x, y, w, h = (int(v) for v in tube["boxes"][0])
    assert track.boxes[tube["sf"]] == (x, y, x + w, y + h)


def test_scaled_to_frame_size_and_class_names_pickle(annotations: Path, native_index: DatasetIndex) -> None:
    native = native_index
    scaled = read_ucf101_24(VIDEOS, 1, annotations=annotations / "pyannot_with_class_names.pkl", frame_size=(640, 480))
    assert native.classes == scaled.classes
    assert [r.video_id for r in native.records] == [r.video_id for r in scaled.records]
    a, b = native.records[100].tracks[0], scaled.records[100].tracks[0]
    assert b.frame_size == (640, 480)
    frame = next(iter(a.boxes))
    assert b.boxes[frame] == tuple(2 * v for v in a.boxes[frame]) == a.scaled(640, 480).boxes[frame]
    # uint8 boxes near the right edge must not wrap around when x + w is formed
    assert max(x2 for r in native.records for t in r.tracks for (_, _, x2, _) in t.boxes.values()) > 255


def write_pickle(folder: Path, db: object, testlist: str = "Archery/v_Archery_g01_c01\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "pyannot.pkl").open("wb") as f:
        pickle.dump(db, f, protocol=2)
    (folder / "testlist01.txt").write_text(testlist)
    return folder


def tube(sf: int, ef: int) -> dict:
    return {"sf": sf, "ef": ef, "label": 0, "boxes": np.tile(np.array([10, 20, 30, 40], np.uint16), (ef - sf, 1))}


def test_bad_tubes(tmp_path: Path) -> None:
    key = "Archery/v_Archery_g01_c01"
    folder = write_pickle(tmp_path / "a", {key: {"numf": np.uint8(50), "label": 0, "annotations": [tube(40, 60)]}})
    with pytest.raises(DatasetError, match=rf"pyannot.pkl: {key} tube 0: ends at frame 60, past the end .* 50 frames"):
        read_ucf101_24(tmp_path, 1, annotations=folder)
    bad = tube(0, 10)
    bad["boxes"] = bad["boxes"][:5]
    folder = write_pickle(tmp_path / "b", {key: {"numf": 50, "label": 0, "annotations": [bad]}})
    with pytest.raises(DatasetError, match=r"boxes have shape \(5, 4\), expected \(10, 4\)"):
        read_ucf101_24(tmp_path, 1, annotations=folder)
    folder = write_pickle(tmp_path / "c", {key: {"numf": 50, "annotations": []}})
    with pytest.raises(DatasetError, match=r"pyannot.pkl: malformed video entry"):
        read_ucf101_24(tmp_path, 1, annotations=folder)
    folder = write_pickle(tmp_path / "d", {key: {"numf": 50, "label": 0, "annotations": [tube(0, 10)]}}, "Archery/x\n")
    with pytest.raises(DatasetError, match=r"testlist01.txt:1: Archery/x has no annotation in the pickle"):
        read_ucf101_24(tmp_path, 1, annotations=folder)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "pyannot.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match=r"pyannot.pkl: not a readable annotation pickle"):
        read_ucf101_24(tmp_path, 1, annotations=tmp_path / "e")


class _RunsCode:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned",))


def test_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    folder = write_pickle(tmp_path, {"Archery/v_Archery_g01_c01": _RunsCode()})
    with pytest.raises(DatasetError, match=r"not a readable annotation pickle: refusing to load \w+\.system"):
        read_ucf101_24(tmp_path, 1, annotations=folder)
