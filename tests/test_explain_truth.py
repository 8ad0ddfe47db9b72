"""`wherewhen explain` shows a video's ground truth beside the attention: found through the run's feature store, a
benchmark folder above the video, or --truth; held in explanation.json; drawn in the MP4 and the contact sheet;
summarized in one line. A model trained here on the shared embedded benchmark explains its real videos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from wherewhen.cli import main
from wherewhen.datasets.registry import read_dataset
from wherewhen.evaluate.spatial import SpatialConfig
from wherewhen.explain import FILES, Explanation, load_explanation
from wherewhen.explain.explanation import truth_line
from wherewhen.explain.plots import CAPTION, GAP, TITLE, sheet_columns
from wherewhen.explain.truth import find_truth
from wherewhen.features.store import FeatureStore

MAGENTA, BLACK = (255, 0, 255), (0, 0, 0)


@pytest.fixture(scope="module")
def run_dir(embedded_features: tuple[Path, FeatureStore], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wherewhen.train import train
    from wherewhen.train.config import load_config

    _, store = embedded_features
    config = load_config(
        values={"data.store": str(store.root), "model.name": "attention_pool"},
        overrides=["train.epochs=1", "train.progress=false", "data.val_fraction=0.5"],
    )
    return train(config, tmp_path_factory.mktemp("truth") / "run", verbose=False).run_dir


@pytest.fixture(scope="module")
def annotated(embedded_features: tuple[Path, FeatureStore]) -> Any:
    """The benchmark's record of its first test video (its segments and box track)."""
    bench, _ = embedded_features
    return next(r for r in read_dataset("embedded", bench).records if r.split == "test")


def explain(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    main(["explain", *argv, "--device", "cpu"])
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.fixture(scope="module")
def found_in_store(run_dir: Path, annotated: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of the benchmark's video explained with the run, the ground truth found by itself."""
    out = tmp_path_factory.mktemp("store_route") / "out"
    main(["explain", str(run_dir), str(annotated.path), "-o", str(out), "--device", "cpu"])
    return out


def hand_summary(data: dict[str, Any]) -> tuple[int, int, float]:
    """From explanation.json alone: frames with a box, those whose peak cell centre (tied maxima: their mean
    centre) lies in the box, and the weight of the frames in [start, end) of a segment over the total."""
    x, y, w, h = data["crop"]
    k = data["grid"]
    with_box = inside = 0
    for frame in data["frames"]:
        if frame["truth_box"] is None:
            continue
        with_box += 1
        a = np.array(frame["attention"])
        rows, cols = np.nonzero(np.abs(a - a.max()) <= 1e-6 * abs(a.max()))
        px, py = x + (cols.mean() + 0.5) * w / k, y + (rows.mean() + 0.5) * h / k
        x1, y1, x2, y2 = frame["truth_box"]
        inside += x1 <= px <= x2 and y1 <= py <= y2
    weights = np.array([f["weight"] for f in data["frames"]])
    held = [any(s <= f["time_s"] < e for s, e in data["truth_segments"]) for f in data["frames"]]
    return with_box, inside, float(weights[held].sum() / weights.sum())


def check_truth(folder: Path, annotated: Any, source: Path) -> Explanation:
    """explanation.json holds the annotation at the explained frames and a summary a hand computation agrees
    with, round-trips, and the report states the summary."""
    data = json.loads((folder / FILES["json"]).read_text(encoding="utf-8"))
    track = annotated.tracks[0]
    assert data["truth"]["source"] == str(source)
    assert data["truth_segments"] == [[s.start, s.end] for s in annotated.segments]
    assert [f["truth_box"] for f in data["frames"]] == [
        None if f["index"] not in track.boxes else list(track.boxes[f["index"]]) for f in data["frames"]
    ]
    with_box, inside, share = hand_summary(data)
    assert with_box >= 2  # the test video's action covers several sampled frames
    assert (data["truth"]["frames_with_box"], data["truth"]["peaks_in_box"]) == (with_box, inside)
    assert data["truth"]["segment_weight"] == pytest.approx(share, abs=1e-12) and 0 < share < 1
    explanation = load_explanation(folder / FILES["json"])
    assert explanation.to_dict() == data
    line = truth_line(explanation)
    assert line == (
        f"attention peak inside the ground-truth box in {inside} of {with_box} frames; {share:.0%} of the temporal "
        "weight inside the ground-truth segment"
    )
    assert f"{line[0].upper()}{line[1:]}." in (folder / FILES["html"]).read_text(encoding="utf-8")
    return explanation


def test_the_runs_store_gives_the_ground_truth(
    found_in_store: Path, annotated: Any, embedded_features: tuple[Path, FeatureStore], run_dir: Path
) -> None:
    _, store = embedded_features
    explanation = check_truth(found_in_store, annotated, store.root)
    html = (found_in_store / FILES["html"]).read_text(encoding="utf-8")
    assert "ground-truth segment" in html and "<th>ground-truth box</th>" in html
    # the saved-model folder leads to its run's store too; old explanation.json files (no truth keys) still load
    assert find_truth(annotated.path, run_dir / "model").source == store.root  # type: ignore[union-attr]
    old = explanation.to_dict()
    del old["truth"], old["truth_segments"]
    for frame in old["frames"]:
        del frame["truth_box"]
    back = Explanation.from_dict(old)
    assert back.truth is None and back.truth_segments == [] and all(f.truth_box is None for f in back.frames)


def test_a_benchmark_folder_above_the_video_gives_it_and_truth_flags_choose(
    run_dir: Path,
    annotated: Any,
    embedded_features: tuple[Path, FeatureStore],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench, store = embedded_features
    copy = tmp_path / "bench"
    shutil.copytree(bench, copy)  # the run's store does not hold these paths
    moved = copy / annotated.path.relative_to(bench)
    out, _ = explain([str(run_dir), str(moved), "-o", str(tmp_path / "bench_route")], capsys)
    check_truth(tmp_path / "bench_route", annotated, copy)
    assert truth_line(load_explanation(tmp_path / "bench_route" / FILES["json"])) in out

    # --truth names the folder (here the benchmark, where the run's store would come first)
    explain([str(run_dir), str(annotated.path), "-o", str(tmp_path / "named"), "--truth", str(bench)], capsys)
    check_truth(tmp_path / "named", annotated, bench)
    # a --truth folder that does not hold the video: one line, and no ground truth
    out, err = explain([str(run_dir), str(moved), "-o", str(tmp_path / "other"), "--truth", str(store.root)], capsys)
    assert err.count("\n") == 2 and f"note: {store.root} holds no ground truth for {moved.name}" in err
    assert load_explanation(tmp_path / "other" / FILES["json"]).truth is None and "ground-truth" not in out
    out, _ = explain([str(run_dir), str(annotated.path), "-o", str(tmp_path / "none"), "--no-truth"], capsys)
    assert load_explanation(tmp_path / "none" / FILES["json"]).truth is None and "ground-truth" not in out

    for extra, message in [(["--no-truth", "--truth", str(bench)], "--truth and --no-truth contradict"),
                           (["--truth", str(tmp_path)], "--truth needs a feature store (store.json) or an embedded"),
                           (["--truth", str(tmp_path / "nowhere")], "no such folder")]:  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(["explain", str(run_dir), str(moved), "-o", str(tmp_path / "refused"), *extra])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "refused").exists()

    # a broken benchmark.json on the way is skipped with a note naming it
    (copy / "benchmark.json").write_text("{")
    notes: list[str] = []
    assert find_truth(moved, run_dir, warn=notes.append) is None
    assert len(notes) == 1 and str(copy / "benchmark.json") in notes[0]


def edge_pixels(box: list[float], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the outline of a box as ``dashed_rectangle`` draws it, clipped to the image."""
    x1, y1, x2, y2 = round(box[0]), round(box[1]), round(box[2]) - 1, round(box[3]) - 1
    xs, ys = np.arange(x1, x2 + 1), np.arange(y1, y2 + 1)
    rows = np.concatenate([np.full(len(xs), y1), np.full(len(xs), y2), ys, ys])
    cols = np.concatenate([xs, xs, np.full(len(ys), x1), np.full(len(ys), x2)])
    keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows[keep], cols[keep]


def near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> np.ndarray:
    return np.abs(pixels.astype(int) - np.array(colour)).max(axis=-1) <= tolerance


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_ground_truth_box_is_drawn_in_the_video_and_the_contact_sheet(
    found_in_store: Path, run_dir: Path, annotated: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = found_in_store
    explanation = load_explanation(folder / FILES["json"])
    row = next(k for k, f in enumerate(explanation.frames) if f.truth_box is not None)
    box = list(explanation.frames[row].truth_box)  # type: ignore[arg-type]

    sheet = cv2.cvtColor(cv2.imread(str(folder / FILES["sheet"])), cv2.COLOR_BGR2RGB)
    thumb = explanation.video.width  # 96-pixel frames are never scaled down
    cols = sheet_columns(len(explanation.frames), 1.0)
    x0 = GAP + (row % cols) * (thumb + GAP)
    y0 = TITLE + (row // cols) * (CAPTION + explanation.video.height + GAP) + CAPTION
    tile = sheet[y0 : y0 + explanation.video.height, x0 : x0 + thumb]
    edge = tile[edge_pixels(box, tile.shape)]
    dashes, gaps = near(edge, MAGENTA, 0), near(edge, BLACK, 0)
    assert (dashes | gaps).all() and dashes.mean() > 0.3 and gaps.mean() > 0.2

    explain([str(run_dir), str(annotated.path), "-o", str(tmp_path / "plain"), "--no-truth"], capsys)
    drawn, plain = decode_all(folder / FILES["video"])[row], decode_all(tmp_path / "plain" / FILES["video"])[row]
    band = max(24, round(drawn.shape[0] * 0.14))  # the timeline over the bottom band
    rows, columns = edge_pixels(box, drawn.shape)
    # the label's black boxes cover the top of a small frame in both videos
    visible = (rows < drawn.shape[0] - band) & ~near(plain[rows, columns], BLACK, 40)
    assert visible.sum() >= 20
    assert near(drawn[rows, columns][visible], MAGENTA).mean() > 0.3
    assert near(plain[rows, columns][visible], MAGENTA).mean() < 0.05


def test_a_video_without_ground_truth_is_explained_as_before(
    run_dir: Path, annotated: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alone = tmp_path / "alone" / annotated.path.name  # no benchmark.json above it, not in the run's store
    alone.parent.mkdir()
    shutil.copy(annotated.path, alone)
    out, err = explain([str(run_dir), str(alone), "-o", str(tmp_path / "alone_out")], capsys)
    assert "ground-truth" not in out and "note" not in err
    data = json.loads((tmp_path / "alone_out" / FILES["json"]).read_text(encoding="utf-8"))
    assert data["truth"] is None and data["truth_segments"] == []
    assert all(f["truth_box"] is None for f in data["frames"])
    html = (tmp_path / "alone_out" / FILES["html"]).read_text(encoding="utf-8")
    assert "ground-truth" not in html and "magenta" not in html
    # the same pictures as the benchmark's own copy of the video explained with --no-truth
    explain([str(run_dir), str(annotated.path), "-o", str(tmp_path / "plain"), "--no-truth"], capsys)
    for mine, theirs in zip(
        decode_all(tmp_path / "alone_out" / FILES["video"]),
        decode_all(tmp_path / "plain" / FILES["video"]),
        strict=True,
    ):
        assert np.array_equal(mine, theirs)


def test_the_demo_explains_with_the_ground_truth(
    run_dir: Path, annotated: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wherewhen.demo import _explain

    files = _explain(run_dir, Path(annotated.path), tmp_path / "demo")
    explanation = load_explanation(files["json"])
    assert explanation.truth is not None and explanation.truth.frames_with_box >= 2
    assert f"{truth_line(explanation)}\n" in capsys.readouterr().out


def test_summary_counts_peaks_on_the_box_edge_and_weight_in_half_open_segments() -> None:
    """A hand-made explanation of a 70 x 70 video (7 x 7 grid of 10-pixel cells) and ground truth annotated at
    half that size: boxes are scaled, a peak on the box's edge counts, a frame at a segment's end does not."""
    from wherewhen.explain.explanation import FrameExplanation, VideoSummary
    from wherewhen.explain.truth import GroundTruth, with_truth
    from wherewhen.video.records import BoxTrack

    def peaked(*cells: tuple[int, int]) -> np.ndarray:
        a = np.full((7, 7), 0.01)
        for r, c in cells:
            a[r, c] = 0.5
        return a

    maps = [peaked((2, 3)), peaked((0, 0)), peaked((6, 6)), peaked((3, 3)), peaked((0, 0), (0, 2))]
    weights = [0.1, 0.2, 0.3, 0.1, 0.3]
    frames = [FrameExplanation(i, i / 2, m, None, w) for i, (m, w) in enumerate(zip(maps, weights, strict=True))]
    explanation = Explanation(
        video=VideoSummary("/videos/v.mp4", num_frames=5, fps=2.0, duration=2.5, width=70, height=70),
        model="m",
        label="a",
        confidence=1.0,
        top5=[("a", 1.0)],
        probabilities={"a": 1.0},
        frames=frames,
        segments=[],
        crop=(0.0, 0.0, 70.0, 70.0),
        grid=7,
    )
    half = {0: (15.0, 10.0, 25.0, 20.0), 1: (2.5, 2.5, 10.0, 10.0), 2: (0.0, 0.0, 30.0, 30.0), 4: (5.0, 0.0, 7.5, 5.0)}
    truth = GroundTruth(Path("/bench"), ((0.5, 1.0), (2.0, 3.0)), (BoxTrack((35, 35), half),))
    done = with_truth(explanation, truth)
    assert [f.truth_box for f in done.frames] == [
        (30.0, 20.0, 50.0, 40.0), (5.0, 5.0, 20.0, 20.0), (0.0, 0.0, 60.0, 60.0), None, (10.0, 0.0, 15.0, 10.0)
    ]  # fmt: skip
    # peaks: (35, 25) inside; (5, 5) on the corner; (65, 65) outside; two tied cells: their mean centre (15, 5)
    summary = done.truth
    assert summary is not None and (summary.frames_with_box, summary.peaks_in_box) == (4, 3)
    assert summary.segment_weight == pytest.approx(0.2 + 0.3)  # t = 0.5 and 2.0; t = 1.0 ends the first segment
    assert summary.source == "/bench" and summary.peak == SpatialConfig().peak
    assert truth_line(done) == (
        "attention peak inside the ground-truth box in 3 of 4 frames; 50% of the temporal weight inside the "
        "ground-truth segments"
    )
    assert explanation.truth is None and with_truth(explanation, None) is explanation  # the input is left alone
    assert Explanation.from_json(done.to_json()).to_dict() == done.to_dict()
