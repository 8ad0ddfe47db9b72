"""`wherewhen explain` and ``Explainer`` on real footage with a model trained here on the embedded benchmark,
and the refusals on bad input."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from wherewhen.cli import main
from wherewhen.datasets.benchmark import generate_benchmark
from wherewhen.datasets.benchmark.config import preset
from wherewhen.datasets.registry import read_dataset
from wherewhen.errors import CheckpointError
from wherewhen.explain import FILES, Explainer, Explanation, load_explanation, write_explanation
from wherewhen.features.extract import ExtractOptions, extract_videos
from wherewhen.features.store import FeatureStore
from wherewhen.train.config import load_config
from wherewhen.train.run import train
from wherewhen.video.probe import probe
from wherewhen.video.sampling import SamplingSpec

SAMPLED = 8  # rows per video: uniform sampling, as the store was extracted


def train_small(root: Path, model: list[str], flow: str | None = None, epochs: int = 2) -> Path:
    """A small model (``model``: its --set overrides) trained for ``epochs`` on a small embedded benchmark under
    ``root`` (6 classes, so top-5 is not all); returns the run directory."""
    knobs = {"classes": 6, "videos_per_class": 2, "frames": 24, "width": 96, "height": 96, "distractors": 2}
    generate_benchmark(root / "bench", preset("default").with_overrides(knobs), workers=1)
    index = read_dataset("embedded", root / "bench")
    options = ExtractOptions(sampling=SamplingSpec(frames=SAMPLED), flow=flow, progress=False, workers=1)
    summary = extract_videos(index.records, root / "store", options, index.classes)
    assert summary.written == 12 and not summary.failed
    overrides = [f"train.epochs={epochs}", "train.progress=false", "train.device=cpu", *model]
    config = load_config(None, overrides, values={"data.store": str(root / "store")})
    return train(config, root / "run", verbose=False).run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small stam model trained for two epochs, without its attention teacher (what it learned does not matter)."""
    small = ["model.reduce_dim=32", "model.hidden_channels=16", "model.mask_channels=8", "model.attention_channels=8",
             "train.attention_teacher="]  # fmt: skip
    return train_small(tmp_path_factory.mktemp("explain"), ["model.name=stam", *small])


@pytest.fixture(scope="module", params=["bikes", "demo"])
def video(request: pytest.FixtureRequest, bikes_mp4: Path, shared_data: Path) -> Path:
    return bikes_mp4 if request.param == "bikes" else shared_data / "videos/mmaction2_demo/demo.mp4"


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value for name, value in attrs if name in ("src", "href") and value]


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]


def check_explanation(explanation: Explanation, video: Path) -> None:
    info = probe(video)
    classes = 6
    assert explanation.video.width == info.width and explanation.video.height == info.height
    assert len(explanation.frames) == SAMPLED
    probs = [p for _, p in explanation.top5]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert sum(explanation.probabilities.values()) == pytest.approx(1.0) and len(explanation.probabilities) == classes
    assert explanation.label == explanation.top5[0][0] and explanation.confidence == probs[0]
    assert sum(f.weight for f in explanation.frames) == pytest.approx(1.0)
    indices = [f.index for f in explanation.frames]
    assert indices == sorted(indices) and indices[0] >= 0 and indices[-1] < info.num_frames
    x, y, w, h = explanation.crop
    assert w == pytest.approx(h, rel=0.01)  # the square centre crop, through rounded resize sizes
    assert x >= 0 and x + w <= info.width + 1e-6 and y >= 0 and y + h <= info.height + 1e-6
    for f in explanation.frames:
        assert f.attention.shape == (7, 7)
        assert f.box is not None  # a map with a positive maximum always keeps its peak cell
        x1, y1, x2, y2 = f.box
        assert 0 <= x1 < x2 <= info.width and 0 <= y1 < y2 <= info.height
        assert x - 1e-6 <= x1 and x2 <= x + w + 1e-6 and y - 1e-6 <= y1 and y2 <= y + h + 1e-6  # inside the crop
    for seg in explanation.segments:
        assert 0 <= seg.start_s < seg.end_s <= explanation.video.duration + 1e-9


def test_cli_and_api_explain_real_videos(
    run_dir: Path, video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "explained"
    main(["explain", str(run_dir), str(video), "-o", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    assert printed.startswith(f"{video.name}: ") and f"-> {out / 'report.html'}" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())  # no temporary files left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    from_json = load_explanation(out / FILES["json"])
    check_explanation(from_json, video)
    # the API on the saved-model folder gives the same objects the CLI wrote (JSON round trip included)
    explanation = Explainer.from_pretrained(run_dir / "model", device="cpu").explain(video)
    assert explanation.to_dict() == from_json.to_dict()
    for mine, read in zip(explanation.frames, from_json.frames, strict=True):
        assert np.array_equal(mine.attention, read.attention) and mine.box == read.box

    frames = decode_all(out / FILES["video"])
    assert len(frames) == SAMPLED
    height, width = frames[0].shape[:2]
    assert width / height == pytest.approx(explanation.video.width / explanation.video.height, abs=0.01)

    html = (out / FILES["html"]).read_text(encoding="utf-8")
    parser = References()
    parser.feed(html)
    assert set(parser.refs) == {FILES["video"], FILES["sheet"], FILES["json"]}
    assert all((out / ref).is_file() for ref in parser.refs)
    assert "http" not in html and "<style>" in html and explanation.label in html
    assert html.count("<tr><td>") >= SAMPLED  # the per-frame table
    assert (out / FILES["sheet"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_api_writes_the_same_folder_layout(run_dir: Path, bikes_mp4: Path, tmp_path: Path) -> None:
    explainer = Explainer.from_pretrained(run_dir, device="cpu")
    frames = json.loads((run_dir / "run.json").read_text())["frames"]
    explanation = explainer.explain(bikes_mp4)
    assert explainer._plan.frames == frames and {len(clip) for clip in explanation.clips} == {frames}  # as trained
    assert set(explainer.timings) == {"decode", "backbone", "model"}
    files = write_explanation(explanation, tmp_path / "api")
    assert {k: p.name for k, p in files.items()} == FILES and all(p.is_file() for p in files.values())
    assert (files["json"].stat().st_mode & 0o044) == 0o044  # readable by others, like any file the user writes


def test_boxes_use_the_models_box_threshold_unless_one_is_given(
    run_dir: Path, bikes_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wherewhen.evaluate.boxes import attention_boxes
    from wherewhen.models.stam import SpatioTemporalAttention

    def boxes_at(explanation: Explanation, threshold: float) -> list:
        maps = np.stack([f.attention for f in explanation.frames])
        size = (explanation.video.width, explanation.video.height)
        return [
            tuple(float(v) for v in b)
            for b in attention_boxes(maps, explanation.crop, size, threshold, "peak", upsample=4)
        ]

    monkeypatch.setattr(SpatioTemporalAttention, "box_threshold", 0.99)  # this small mask varies by < 16 %
    own = Explainer.from_pretrained(run_dir, device="cpu").explain(bikes_mp4)
    assert (own.box_threshold, own.threshold) == (0.99, 0.5)  # segments keep half the mean weight
    assert [f.box for f in own.frames] == boxes_at(own, 0.99) != boxes_at(own, 0.5)
    given = Explainer.from_pretrained(run_dir, device="cpu", threshold=0.5).explain(bikes_mp4)
    assert (given.box_threshold, given.threshold) == (0.5, 0.5)
    assert [f.box for f in given.frames] == boxes_at(given, 0.5)


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_undecodable_video_and_bad_device_are_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    out = tmp_path / "out"
    err = fails(["explain", str(run_dir), str(bad), "-o", str(out)], capsys)
    assert str(bad) in err and "not a readable video" in err
    err = fails(["explain", str(run_dir), str(bad), "-o", str(out), "--device", "tpu"], capsys)
    assert "--device='tpu' is not a device" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["holiday.mp4"]


def test_model_from_another_version_is_refused(
    run_dir: Path, bikes_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = shutil.copytree(run_dir / "model", tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"format": "wherewhen-model/0"}))
    with pytest.raises(CheckpointError, match="format 'wherewhen-model/0'"):
        Explainer.from_pretrained(model)
    err = fails(["explain", str(model), str(bikes_mp4), "-o", str(tmp_path / "out")], capsys)
    assert str(model / "config.json") in err and "cannot read it" in err
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    err = fails(["explain", str(tmp_path / "empty"), str(bikes_mp4), "-o", str(tmp_path / "out")], capsys)
    assert "not a saved model directory" in err


def test_a_model_from_before_the_preprocessing_tag_explains_with_a_note(
    run_dir: Path, bikes_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Explainer.from_pretrained(run_dir).notes == []
    model = shutil.copytree(run_dir / "model", tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    del config["features"]["preprocessing"]
    (model / "config.json").write_text(json.dumps(config))
    (note,) = Explainer.from_pretrained(model).notes
    assert "resize-then-crop" in note and "centred-square" in note
    main(["explain", str(model), str(bikes_mp4), "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert note in captured.err and captured.out.startswith(f"{bikes_mp4.name}: ")
    assert (tmp_path / "out" / FILES["html"]).is_file()


def test_existing_output_is_kept_unless_forced(
    run_dir: Path, bikes_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    err = fails(["explain", str(run_dir), str(bikes_mp4), "-o", str(out)], capsys)
    assert str(out) in err and "--force" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"

    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    fails(["explain", str(run_dir), str(bad), "-o", str(out), "--force"], capsys)  # a failure replaces nothing
    assert [p.name for p in out.iterdir()] == ["notes.txt"]

    main(["explain", str(run_dir), str(bikes_mp4), "-o", str(out), "--force"])
    assert "only its centred 272x272 square" in capsys.readouterr().err  # bikes.mp4 is 640x272
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "out"]  # no staging folders left

    (tmp_path / "file").write_text("x")
    err = fails(["explain", str(run_dir), str(bikes_mp4), "-o", str(tmp_path / "file")], capsys)
    assert "not a folder" in err


def test_cubes_and_explain_cubes_are_the_two_halves_of_explain(run_dir: Path, bikes_mp4: Path) -> None:
    explainer = Explainer.from_pretrained(run_dir, device="cpu")
    info = probe(bikes_mp4)
    record, rgb, flow, display = explainer.cubes(bikes_mp4, info=info, display_side=64, display_frames=3)
    assert rgb.dtype == torch.float16 and rgb.shape == (SAMPLED, 1280, 7, 7) and flow is None
    assert len(record.frame_indices) == SAMPLED and record.frame_size == (info.width, info.height)
    assert sorted(display) == record.frame_indices[:3]  # the display frames: the first sampled ones
    assert all(min(frame.shape[:2]) == 64 for frame in display.values())
    assert explainer.explain_cubes(record, rgb).to_dict() == explainer.explain(bikes_mp4).to_dict()
    decoded = explainer._decode(bikes_mp4)  # decoding first, then the backbone (models on flow cubes)
    assert decoded.record is not None and decoded.record.frame_indices == record.frame_indices
    assert decoded.record.frame_size == record.frame_size and decoded.record.crop == record.crop

    store = FeatureStore(run_dir.parent / "store")  # cubes from a feature store: no decoding
    stored = store.records()[0]
    from_store = explainer.explain_cubes(stored, store.load(stored.video_id)["rgb"])
    from_video = explainer.explain(stored.video)
    assert [f.index for f in from_store.frames] == [f.index for f in from_video.frames]
    assert from_store.label == from_video.label
    for name, p in from_video.probabilities.items():
        assert from_store.probabilities[name] == pytest.approx(p, abs=1e-3)


def test_frames_are_drawn_in_order_and_a_dead_encoder_stops_the_drawing() -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor
    from queue import Queue

    from wherewhen.explain.writer import hand_over, in_order

    def slow_square(k: int) -> int:
        time.sleep(0.002 * (5 - k % 5))  # later items finish first
        return k * k

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(in_order(pool, slow_square, ((k,) for k in range(12)), 4)) == [k * k for k in range(12)]

        def encoder() -> None:
            raise OSError("disk full")

        dead = pool.submit(encoder)
        queue: Queue[np.ndarray | None] = Queue(maxsize=1)
        queue.put(np.zeros(1))
        with pytest.raises(OSError, match="disk full"):  # not a wait forever on the full queue
            hand_over(queue, np.zeros(1), dead)
        hand_over(queue, None, dead, check=False)  # the end marker after an error returns quietly


def test_a_drawing_error_leaves_nothing_and_the_threads_serve_the_next_explanation(
    run_dir: Path, bikes_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drawing and encoding threads live for the process; an error on one frame stops the encoder, removes its
    temporary file and the staging folder, and leaves the threads working."""
    import threading

    from wherewhen.explain import writer

    explanation = Explainer.from_pretrained(run_dir, device="cpu").explain(bikes_mp4)
    write_explanation(explanation, tmp_path / "first")
    threads = threading.active_count()
    original = writer.overlay_heatmap

    def fails_on_row_5(image: np.ndarray, attention: np.ndarray, *args: object) -> np.ndarray:
        if attention is explanation.frames[5].attention:
            raise ValueError("bad frame")
        return original(image, attention, *args)

    monkeypatch.setattr(writer, "overlay_heatmap", fails_on_row_5)
    with pytest.raises(ValueError, match="bad frame"):
        write_explanation(explanation, tmp_path / "broken")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]  # no output, no staging folder, no temp files
    files = write_explanation(explanation, tmp_path / "second")
    assert len(decode_all(files["video"])) == len(explanation.frames)
    assert (tmp_path / "second" / FILES["sheet"]).read_bytes() == (tmp_path / "first" / FILES["sheet"]).read_bytes()
    assert threading.active_count() == threads and writer.worker_threads() is writer.worker_threads()
