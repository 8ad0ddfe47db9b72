"""The benchmark generator end to end: real MP4 files through PyAV, the annotation layouts, determinism, resume."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import av
import numpy as np
import pytest

from wherewhen.datasets.benchmark import BenchmarkConfig, generate_benchmark, plan_benchmark
from wherewhen.datasets.benchmark.plan import CUE_COLOR
from wherewhen.errors import DatasetError

TINY = BenchmarkConfig(
    classes=3, videos_per_class=4, frames=16, fps=8, width=96, height=96, distractors=3, segment_min=0.3, seed=7
)
ANNOTATIONS = (
    "benchmark.json",
    "classInd.txt",
    "trainlist01.txt",
    "testlist01.txt",
    "annotations/ucf101_24/pyannot.pkl",
    *(f"annotations/thumos14/{c}_{s}.txt" for c in ("Cat", "Coffee", "Galaxy") for s in ("val", "test")),
)


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny benchmark generated twice: in this process, and by two worker processes."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    generate_benchmark(first, TINY, workers=1)
    generate_benchmark(second, TINY, workers=2)
    return first, second


def decode(path: Path) -> tuple[np.ndarray, av.video.stream.VideoStream]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream


def read_tubes(root: Path) -> dict:
    with open(root / "annotations/ucf101_24/pyannot.pkl", "rb") as f:
        return pickle.load(f, encoding="latin1")


def test_layout_follows_ucf101_thumos_and_ucf101_24(twice: tuple[Path, Path]) -> None:
    root = twice[0]
    for name in ANNOTATIONS:
        assert (root / name).is_file(), name
    assert not (root / ".generating.json").exists()
    assert (root / "classInd.txt").read_bytes() == b"1 Cat\r\n2 Coffee\r\n3 Galaxy\r\n"

    train = (root / "trainlist01.txt").read_bytes().decode().split("\r\n")
    test = (root / "testlist01.txt").read_bytes().decode().split("\r\n")
    assert train[-1] == "" and test[-1] == ""  # every line ends in CRLF
    classes = ["Cat", "Coffee", "Galaxy"]
    for line in train[:-1]:
        path, label = line.split(" ")
        assert path.split("/")[0] == classes[int(label) - 1]
        assert (root / "videos" / path).is_file()
    for path in test[:-1]:
        assert " " not in path and (root / "videos" / path).is_file()

    meta = json.loads((root / "benchmark.json").read_text())
    assert meta["frame_size"] == [96, 96] and meta["fps"] == 8 and meta["seed"] == 7
    assert meta["classes"] == classes and meta["config"] == TINY.to_dict()
    assert meta["generator_version"].startswith("wherewhen-benchmark/")


def test_same_seed_gives_identical_files_and_frames(twice: tuple[Path, Path]) -> None:
    first, second = twice
    for name in ANNOTATIONS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    videos = sorted(p.relative_to(first) for p in first.glob("videos/*/*.mp4"))
    assert len(videos) == 12
    assert videos == sorted(p.relative_to(second) for p in second.glob("videos/*/*.mp4"))
    for rel in videos:
        np.testing.assert_array_equal(decode(first / rel)[0], decode(second / rel)[0])


def test_videos_decode_to_the_configured_size_and_length(twice: tuple[Path, Path]) -> None:
    for path in twice[0].glob("videos/*/*.mp4"):
        frames, stream = decode(path)
        assert frames.shape == (16, 96, 96, 3)
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert float(stream.average_rate) == 8


def test_segments_and_boxes_agree_and_lie_inside(twice: tuple[Path, Path]) -> None:
    root = twice[0]
    tubes = read_tubes(root)
    assert len(tubes) == 12
    classes = ["Cat", "Coffee", "Galaxy"]
    for cls in classes:
        rows = []
        for suffix in ("val", "test"):
            rows += (root / f"annotations/thumos14/{cls}_{suffix}.txt").read_text().splitlines()
        assert len(rows) == 4
        for row in rows:
            stem, start, end = row.split()
            tube = tubes[f"{cls}/{stem}"]
            assert tube["numf"] == 16 and tube["label"] == classes.index(cls)
            (ann,) = tube["annotations"]
            assert 0.0 <= float(start) < float(end) <= 16 / 8  # inside the video's duration
            assert (round(float(start) * 8), round(float(end) * 8)) == (ann["sf"], ann["ef"])
            assert 0 <= ann["sf"] < ann["ef"] <= 16 and ann["label"] == tube["label"]
            boxes = ann["boxes"].astype(int)
            assert ann["boxes"].dtype == np.uint16 and boxes.shape == (ann["ef"] - ann["sf"], 4)
            x, y, w, h = boxes.T
            assert (x >= 0).all() and (y >= 0).all() and (w > 0).all() and (h > 0).all()
            assert (x + w <= 96).all() and (y + h <= 96).all()


def test_boxes_frame_the_cue_in_the_decoded_video(twice: tuple[Path, Path]) -> None:
    """Inside the segment the box's border is the yellow cue; outside it, it is the actor's own frame colour."""
    root = twice[0]
    cue = np.array(CUE_COLOR, dtype=float)
    for plan in plan_benchmark(TINY):
        own = np.array(plan.actor.color, dtype=float)
        frames, _ = decode(root / "videos" / plan.class_name / f"{plan.stem}.mp4")
        for t, frame in enumerate(frames.astype(float)):
            x, y, w, h = plan.box(t)
            r = plan.ring
            # the middle rows of the top and bottom edges of the frame drawn around the actor
            top, bottom = frame[y + r // 2, x + r : x + w - r], frame[y + h - 1 - r // 2, x + r : x + w - r]
            border = np.concatenate([top, bottom])
            colour = np.median(border, axis=0)  # 4:2:0 chroma blurs a 2-pixel ring, hence loose bounds
            to_cue, to_own = np.abs(colour - cue).mean(), np.abs(colour - own).mean()
            if plan.in_segment(t):
                assert to_cue < 60 and to_cue < to_own, (plan.stem, t, colour)
            else:
                assert to_own < to_cue, (plan.stem, t, colour)


def test_splits_are_stratified(twice: tuple[Path, Path]) -> None:
    root = twice[0]
    train = [line.split()[0] for line in (root / "trainlist01.txt").read_text().splitlines()]
    test = (root / "testlist01.txt").read_text().splitlines()
    assert not set(train) & set(test)
    for cls in ("Cat", "Coffee", "Galaxy"):
        assert sum(p.startswith(f"{cls}/") for p in train) == 3  # round(0.7 * 4)
        assert sum(p.startswith(f"{cls}/") for p in test) == 1


def test_killed_run_resumes_and_other_settings_are_refused(tmp_path: Path) -> None:
    config = BenchmarkConfig(classes=2, videos_per_class=2, frames=8, fps=4, width=64, height=64, distractors=1)
    generate_benchmark(tmp_path, config, workers=1)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    victim = next(iter(sorted(tmp_path.glob("videos/*/*.mp4"))))
    victim.unlink()
    (tmp_path / "benchmark.json").unlink()
    stale = victim.parent / f".{victim.name}.abc.tmp"
    stale.write_bytes(b"half a video")

    seen: list[tuple[int, int]] = []
    summary = generate_benchmark(tmp_path, config, workers=1, progress=lambda d, n: seen.append((d, n)))
    assert (summary.generated, summary.skipped, summary.videos) == (1, 3, 4)
    assert seen[0] == (3, 4) and seen[-1] == (4, 4)
    assert not stale.exists()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    with pytest.raises(DatasetError, match=r"frames=8 there, 9 asked"):
        generate_benchmark(tmp_path, config.with_overrides({"frames": 9}), workers=1)


def test_cli_generates_and_reports_bad_knobs_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wherewhen.cli import main

    knobs = ["classes=2", "videos_per_class=2", "frames=8", "fps=4", "width=64", "height=64", "distractors=1"]
    main(["generate", str(tmp_path), *(a for k in knobs for a in ("--set", k)), "--seed", "3", "--workers", "1"])
    assert "4 videos of 2 classes (Cat, Coffee)" in capsys.readouterr().out
    meta = json.loads((tmp_path / "benchmark.json").read_text())
    assert meta["seed"] == 3 and meta["config"]["frames"] == 8 and meta["preset"] is None

    bad_calls = ((["--set", "frames"], "expected KNOB=VALUE"), (["--set", "colour=red"], "unknown benchmark knob"))
    for bad, message in bad_calls:
        with pytest.raises(SystemExit) as exit_info:
            main(["generate", str(tmp_path / "other"), *bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_script_on_standard_input_generates_in_process(twice: tuple[Path, Path], tmp_path: Path) -> None:
    """Worker processes re-run the main script from its file; a script read from stdin has none, so the videos are
    rendered in that process instead of failing with a broken process pool."""
    import subprocess
    import sys

    script = (
        "from pathlib import Path\n"
        "from wherewhen.datasets.benchmark import BenchmarkConfig, generate_benchmark\n"
        "from wherewhen.datasets.benchmark.generate import main_is_importable\n"
        "assert not main_is_importable()\n"
        f"config = BenchmarkConfig(**{TINY.__dict__!r})\n"
        f"generate_benchmark(Path({str(tmp_path / 'stdin')!r}), config, workers=2)\n"
    )
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    first, _ = twice
    videos = sorted((first / "videos").rglob("*.mp4"))
    assert len(videos) == 12
    for video in videos:
        assert (tmp_path / "stdin" / video.relative_to(first)).read_bytes() == video.read_bytes()
