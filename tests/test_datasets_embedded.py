"""The embedded benchmark layout, read through the UCF101, THUMOS'14 and UCF101-24 parsers, on a tiny copy."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import av
import numpy as np
import pytest

from wherewhen.datasets.check import check_dataset
from wherewhen.datasets.embedded import read_embedded
from wherewhen.datasets.registry import read_dataset
from wherewhen.errors import DatasetError

FRAME_SIZE = (160, 120)
VIDEOS = {"Wave": ("wave_000", "wave_001"), "Jump": ("jump_000", "jump_001")}  # first train, second test


def encode(path: Path, frames: int = 10, fps: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *FRAME_SIZE, "yuv420p"
        for i in range(frames):
            image = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 20 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def tube(sf: int, ef: int, label: int) -> dict:
    boxes = np.tile(np.array([40, 30, 80, 60], np.uint16), (ef - sf, 1))
    return {"sf": sf, "ef": ef, "label": label, "boxes": boxes}


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    root = tmp_path / "bench"
    root.mkdir()
    (root / "benchmark.json").write_text(json.dumps({"frame_size": list(FRAME_SIZE), "fps": 10, "seed": 0}))
    classes = list(VIDEOS)
    (root / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(classes, 1)).encode())
    (root / "trainlist01.txt").write_bytes(
        "".join(f"{c}/{v[0]}.mp4 {i}\r\n" for i, (c, v) in enumerate(VIDEOS.items(), 1)).encode()
    )
    (root / "testlist01.txt").write_bytes("".join(f"{c}/{v[1]}.mp4\r\n" for c, v in VIDEOS.items()).encode())
    for c, stems in VIDEOS.items():
        for stem in stems:
            encode(root / "videos" / c / f"{stem}.mp4")
    thumos = root / "annotations" / "thumos14"
    thumos.mkdir(parents=True)
    (thumos / "Wave_val.txt").write_text("wave_000 0.2 0.6\n")
    (thumos / "Wave_test.txt").write_text("wave_001 0.1 0.5\nwave_001 0.6 0.9\n")
    (thumos / "Jump_val.txt").write_text("jump_000 0.3 0.8\n")
    (thumos / "Jump_test.txt").write_text("jump_001 0.0 0.4\n")
    db = {
        "Wave/wave_000": {"numf": 10, "label": 0, "annotations": [tube(2, 6, 0)]},
        "Wave/wave_001": {"numf": 10, "label": 0, "annotations": [tube(1, 5, 0), tube(6, 9, 0)]},
        "Jump/jump_001": {"numf": 10, "label": 1, "annotations": [tube(0, 4, 1)]},
    }
    (root / "annotations" / "ucf101_24").mkdir()
    with (root / "annotations" / "ucf101_24" / "pyannot.pkl").open("wb") as f:
        pickle.dump(db, f, protocol=2)
    return root


def test_reads_records_segments_and_tracks(bench: Path) -> None:
    index = read_dataset("embedded", bench, 1)
    assert index.classes == ["Wave", "Jump"]
    assert [(r.video_id, r.label, r.split) for r in index.records] == [
        ("wave_000", "Wave", "train"),
        ("jump_000", "Jump", "train"),
        ("wave_001", "Wave", "test"),
        ("jump_001", "Jump", "test"),
    ]
    wave_test = index.records[2]
    assert wave_test.path == bench / "videos" / "Wave" / "wave_001.mp4"
    assert wave_test.group is None
    assert [(s.start, s.end, s.label) for s in wave_test.segments] == [(0.1, 0.5, "Wave"), (0.6, 0.9, "Wave")]
    assert len(wave_test.tracks) == 2
    track = wave_test.tracks[0]
    assert track.frame_size == FRAME_SIZE and track.label == "Wave"
    assert track.boxes == {f: (40.0, 30.0, 120.0, 90.0) for f in range(1, 5)}
    assert track.scaled(320, 240).boxes[1] == (80.0, 60.0, 240.0, 180.0)
    assert index.records[1].tracks == ()  # jump_000 has no tube
    report = check_dataset(index)
    assert report.ok and report.probed == 4


def test_check_reports_annotations_past_the_end(bench: Path) -> None:
    (bench / "annotations" / "thumos14" / "Jump_test.txt").write_text("jump_001 0.0 4.0\n")
    db = pickle.loads((bench / "annotations" / "ucf101_24" / "pyannot.pkl").read_bytes())
    db["Wave/wave_000"] = {"numf": 40, "label": 0, "annotations": [tube(20, 30, 0)]}  # the video has 10 frames
    (bench / "annotations" / "ucf101_24" / "pyannot.pkl").write_bytes(pickle.dumps(db, protocol=2))
    report = check_dataset(read_embedded(bench))
    assert not report.ok and not report.missing and not report.unreadable
    problems = {path.name: why for path, why in report.past_end}
    assert problems == {
        "jump_001.mp4": "segment [0, 4] s ends after the video's 1.00 s",
        "wave_000.mp4": "track 0 has a box on frame 29, past the video's 10 frames",
    }


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "annotations/thumos14/Wave_test.txt",
            "wave_000 0.1 0.5\n",
            r"Wave_test.txt:1: video 'wave_000' is a train video",
        ),
        ("annotations/thumos14/Run_val.txt", "wave_000 0.1 0.5\n", r"Run_val.txt: class 'Run' is not in classInd.txt"),
        ("annotations/thumos14/Jump_val.txt", "jump_009 0.1 0.5\n", r"Jump_val.txt:1: video 'jump_009' is in no train"),
        ("testlist01.txt", "Wave/wave_001.mp4\r\nRun/run_001.mp4\r\n", r"testlist01.txt:2: class 'Run' is not in"),
        ("benchmark.json", '{"frame_size": [160]}', r"benchmark.json: frame_size must be \[width, height\]"),
        ("benchmark.json", '{"frame_size": ', r"benchmark.json:1: not valid JSON"),
    ],
)
def test_inconsistent_files(bench: Path, file: str, text: str, message: str) -> None:
    (bench / file).write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_embedded(bench)


def test_inconsistent_pickle(bench: Path) -> None:
    path = bench / "annotations" / "ucf101_24" / "pyannot.pkl"
    db = pickle.loads(path.read_bytes())
    db["Jump/jump_001"]["label"] = 0
    path.write_bytes(pickle.dumps(db, protocol=2))
    with pytest.raises(
        DatasetError, match=r"pyannot.pkl: Jump/jump_001: label 0 is class 'Wave', not the key's folder"
    ):
        read_embedded(bench)
    db["Jump/jump_001"]["label"] = 1
    db["Jump/jump_007"] = db.pop("Jump/jump_001")
    path.write_bytes(pickle.dumps(db, protocol=2))
    with pytest.raises(DatasetError, match=r"pyannot.pkl: Jump/jump_007: video is in no train or test list"):
        read_embedded(bench)
