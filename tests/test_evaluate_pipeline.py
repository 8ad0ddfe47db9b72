"""End to end: a feature store on disk, a model, predict + every metric + the written report.

The store's cubes carry the answer in plain sight: channel 0 is 1 on the cells where the action is (in the action
rows), channels 1-3 hold the class. ``OracleModel`` reads its attention and logits straight from those channels,
so every localization metric must come out at exactly 1.0 through the whole pipeline (crop mapping, window
merging, seconds). An untrained ``softmax_cube`` (uniform attention) then gives other numbers known by hand.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from rich.console import Console
from torch import Tensor

from wherewhen.errors import CheckpointError, ConfigError
from wherewhen.evaluate.predict import ClipPlan, predict_records
from wherewhen.evaluate.report import print_report, write_outputs
from wherewhen.evaluate.runner import EvaluationConfig, evaluate_model, evaluate_predictions, evaluate_run
from wherewhen.evaluate.spatial import SpatialConfig
from wherewhen.evaluate.temporal import TemporalConfig, video_segments
from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo
from wherewhen.models import ModelOutput, VideoModel, build_model

CLASSES = ["clap", "wave", "jump"]
K, D = 7, 6
CROP = (40.0, 20.0, 280.0, 210.0)  # cells of 40 x 30 pixels in a 320 x 240 frame
BLOB_ROWS, BLOB_COLS = slice(1, 3), slice(2, 5)
BLOB_BOX = (120.0, 50.0, 240.0, 110.0)  # x 40 + 40*2 .. 40 + 40*5, y 20 + 30*1 .. 20 + 30*3
ROW_STEP = 5  # every 5th frame at 10 fps: rows every 0.5 s


def make_video(
    store: FeatureStore,
    video_id: str,
    label: str,
    rows: int,
    action: range,
    split: str,
    clips: list[list[int]],
    also_looks_like: str | None = None,
) -> None:
    rng = np.random.default_rng(zlib.crc32(video_id.encode()))
    cube = np.zeros((rows, D, K, K), dtype=np.float32)
    cube[:, 4:] = rng.uniform(-1, 1, size=(rows, 2, K, K))  # channels no one reads
    cube[:, 1 + CLASSES.index(label)] = 1.0
    if also_looks_like is not None:  # as much evidence for another class: a hard video
        cube[:, 1 + CLASSES.index(also_looks_like)] = 1.0
    for r in action:
        cube[r, 0, BLOB_ROWS, BLOB_COLS] = 1.0
    # the action rows span [t_first - 0.25, t_last + 0.25] s (midpoints between rows 0.5 s apart)
    segment = (action[0] * 0.5 - 0.25, action[-1] * 0.5 + 0.25, None)
    record = FeatureRecord(
        video_id=video_id,
        video=f"{video_id}.mp4",
        label=label,
        split=split,
        group=None,
        frame_indices=[i * ROW_STEP for i in range(rows)],
        clips=clips,
        fps=10.0,
        num_frames=rows * ROW_STEP,
        duration=rows * ROW_STEP / 10.0,
        frame_size=(320, 240),
        crop=CROP,
        segments=[segment, (rows * 0.5 - 0.4, rows * 0.5 - 0.1, "Ambiguous")],
        boxes=[BLOB_BOX if r in action else None for r in range(rows)],
    )
    store.write(record, torch.from_numpy(cube))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    info = StoreInfo(backbone="test-cubes", input_size=224, grid=K, channels=D, sampling={"rows": 8}, classes=CLASSES)
    store = FeatureStore.create(tmp_path_factory.mktemp("store"), info)
    for label in CLASSES:
        for i in range(2):
            make_video(store, f"{label}{i}", label, 8, range(2 + i, 5 + i), "test", [list(range(8))])
        make_video(store, f"train_{label}", label, 8, range(2, 5), "train", [list(range(8))])
    # an untrimmed video read as three overlapping windows of 6 rows
    make_video(store, "long_jump", "jump", 12, range(4, 8), "test", [list(range(s, s + 6)) for s in (0, 3, 6)])
    store.write_manifest()
    return store


class OracleModel(VideoModel):
    """Attention and logits read from the cube: channel 0 is where the action is, channels 1-3 the class."""

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        where = cubes[:, :, 0].float()
        spatial = (where + 0.01) / (where + 0.01).sum(dim=(-2, -1), keepdim=True)
        temporal = (6.0 * where.amax(dim=(-2, -1))).softmax(dim=-1)
        logits = 8.0 * cubes[:, :, 1 : 1 + self.num_classes].float().mean(dim=(1, 3, 4))
        return ModelOutput(logits=logits, spatial=spatial, temporal=temporal)


def test_oracle_attention_localizes_perfectly(store: FeatureStore) -> None:
    result = evaluate_model(OracleModel(len(CLASSES), D, K), store, CLASSES, EvaluationConfig())
    assert result.num_videos == 7
    assert result.classification is not None
    assert (result.classification.top1, result.classification.mean_class_accuracy) == (1.0, 1.0)
    spatial, temporal = result.spatial, result.temporal
    assert spatial is not None and temporal is not None
    assert spatial["frame_map"] == {k: pytest.approx(1.0) for k in ("0.05", "0.1", "0.2", "0.3", "0.5")}
    assert spatial["pointing_game"] == 1.0 and spatial["mean_iou"] == pytest.approx(1.0)
    assert spatial["frames"] == 6 * 8 + 12 and spatial["frames_with_ground_truth"] == 6 * 3 + 4
    assert temporal["map"] == {k: pytest.approx(1.0) for k in ("0.1", "0.2", "0.3", "0.4", "0.5")}
    assert temporal["predicted_segments"] == 7 and temporal["ambiguous_segments"] == 7


class WideOracle(OracleModel):
    """The oracle's map with a halo: the cells around the action at 0.6 of its peak."""

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        out = super().forward(cubes, flow)
        where = cubes[:, :, 0].float()
        halo = torch.nn.functional.max_pool2d(where.flatten(0, 1)[:, None], 3, stride=1, padding=1).view_as(where)
        spatial = where + 0.6 * (halo - where) + 0.01
        return dataclasses.replace(out, spatial=spatial / spatial.sum(dim=(-2, -1), keepdim=True))


class TightOracle(WideOracle):
    box_threshold = 0.8


def test_boxes_use_the_models_box_threshold_unless_one_is_set(store: FeatureStore) -> None:
    def spatial(model: VideoModel, config: EvaluationConfig) -> dict:
        result = evaluate_model(model, store, CLASSES, config)
        assert result.spatial is not None
        return {k: v for k, v in result.spatial.items() if k != "per_class_ap"}, result.protocol

    wide, tight = WideOracle(len(CLASSES), D, K), TightOracle(len(CLASSES), D, K)
    at = {t: EvaluationConfig(spatial=SpatialConfig(threshold=t)) for t in (0.5, 0.8)}
    (halo_box, _), (own, protocol) = spatial(wide, EvaluationConfig()), spatial(tight, EvaluationConfig())
    # at half the peak the halo (0.6) is kept and the box grows by a cell on each side; at 0.8 it is not
    assert halo_box == spatial(wide, at[0.5])[0] and halo_box["mean_iou"] < 0.5
    assert own == spatial(wide, at[0.8])[0] and own["mean_iou"] > 0.8
    assert any("keeps values >= 0.8;" in line for line in protocol)
    assert spatial(tight, at[0.5])[0] == halo_box  # a threshold the user sets wins
    assert spatial(tight, EvaluationConfig().with_threshold(0.5))[0] == halo_box
    assert (
        spatial(tight, EvaluationConfig().with_decoding("paper"))[1] == spatial(wide, at[0.5].with_decoding("paper"))[1]
    )


def test_untrained_softmax_cube_end_to_end(store: FeatureStore, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("softmax_cube", num_classes=len(CLASSES), in_channels=D, grid=K)
    result = evaluate_model(model, store, CLASSES, EvaluationConfig(aggregate="mean"))
    spatial, temporal = result.spatial, result.temporal
    assert spatial is not None and temporal is not None
    # Uniform attention: every predicted box is the whole crop (40, 20, 320, 230), area 280 * 210 = 58800,
    # which holds the 120 x 60 ground-truth box -> IoU 7200 / 58800; the peak is the crop centre (180, 125),
    # below the box (y 50..110) -> the pointing game never hits.
    assert spatial["mean_iou"] == pytest.approx(7200 / 58800)
    assert spatial["pointing_game"] == 0.0
    assert spatial["frame_map"]["0.2"] == 0.0
    # Uniform weights: one segment over the whole video, [0, 3.75] s for 8 rows against ground truth of 1.5 s
    # (tIoU 0.4) and [0, 5.75] for the 12-row video against 2 s (tIoU 0.348): found at 0.1-0.3, never at 0.5.
    assert temporal["map"]["0.5"] == 0.0
    assert temporal["map"]["0.1"] == temporal["map"]["0.3"] > 0
    assert result.classification is not None and result.classification.confusion.sum() == 7

    console = Console(file=io.StringIO(), width=200)
    print_report(result, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "mean of per-frame softmax" in text and "frame-mAP @ IoU 0.05" in text and "wave" in text

    write_outputs(result, tmp_path / "eval")
    png = imread(tmp_path / "eval" / "confusion.png")
    assert png.ndim == 3 and png.shape[0] > 300
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["classification"]["top1"] == result.classification.top1
    assert metrics["config"]["aggregate"] == "mean"
    assert (tmp_path / "eval" / "per_class.csv").read_text().splitlines()[0].startswith("class,videos,correct")


def test_batching_and_windows_do_not_change_outputs(store: FeatureStore) -> None:
    torch.manual_seed(1)
    model = build_model("softmax_cube", num_classes=len(CLASSES), in_channels=D, grid=K)
    records = [r for r in store.records() if r.split == "test"]
    one = predict_records(model, store, records, CLASSES, batch_size=1)
    many = predict_records(model, store, records, CLASSES, batch_size=5)
    for a, b in zip(one, many, strict=True):
        assert a.record.video_id == b.record.video_id and len(a.clips) == len(b.clips)
        for ca, cb in zip(a.clips, b.clips, strict=True):
            np.testing.assert_allclose(ca.probabilities, cb.probabilities, rtol=1e-5, atol=1e-6)
    # predicting leaves the model's mode as it was; an eval-mode forward pass of one whole video agrees
    assert model.training
    model.eval()
    rec = records[0]
    cube = store.load(rec.video_id)["rgb"].float()[None]
    direct = model(cube).logits.softmax(-1)[0].detach().numpy()
    np.testing.assert_allclose(one[0].clips[0].probabilities, direct, rtol=1e-5, atol=1e-6)
    # sliding windows of 4 rows every 2 rows over the 12-row video: windows start at 0, 2, 4, 6, 8
    long = [r for r in records if r.video_id == "long_jump"]
    windows = predict_records(model, store, long, CLASSES, plan=ClipPlan(window=4, stride=2))
    assert [c.rows.tolist()[0] for c in windows[0].clips] == [0, 2, 4, 6, 8]
    picked = predict_records(model, store, long, CLASSES, plan=ClipPlan(window=4, stride=2, num_clips=3))
    assert [c.rows.tolist()[0] for c in picked[0].clips] == [0, 4, 8]


def test_split_without_ground_truth_says_so(store: FeatureStore) -> None:
    records = [dataclasses.replace(r, boxes=[], segments=[]) for r in store.records() if r.split == "test"]
    predictions = predict_records(OracleModel(len(CLASSES), D, K), store, records, CLASSES)
    result = evaluate_predictions(predictions, CLASSES)
    assert result.spatial is None and result.temporal is None
    assert "spatial: no ground truth boxes in this split" in result.protocol
    assert result.to_json()["temporal"] == {"skipped": "no ground truth segments in this split"}


def test_run_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no run\.json"):
        evaluate_run(tmp_path)
    (tmp_path / "run.json").write_text('{"store": "nowhere", "splits": {"test": "test"}}')
    (tmp_path / "eval-test").mkdir()
    (tmp_path / "eval-test" / "metrics.json").write_text("{}")
    with pytest.raises(ConfigError, match="--force"):
        evaluate_run(tmp_path)


def test_cli_reports_a_bad_run_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wherewhen.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tmp_path), "--aggregate", "mean"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "run.json" in err and len(err.splitlines()) == 1


def test_frames_per_clip_take_segment_centres_and_localize_on_those_rows(store: FeatureStore) -> None:
    # 4 of 8 rows per clip, at the centres of 4 equal segments: rows 1, 3, 5, 7 (floor((i + 0.5) * 8 / 4)).
    records = [r for r in store.records() if r.split == "test"]
    plan = ClipPlan(frames=4)
    predictions = predict_records(OracleModel(len(CLASSES), D, K), store, records, CLASSES, plan=plan)
    assert predictions[0].clips[0].rows.tolist() == [1, 3, 5, 7]
    result = evaluate_predictions(predictions, CLASSES, EvaluationConfig(clips=plan))
    assert result.spatial is not None and result.temporal is not None
    # only sampled rows are frames: 6 videos x 4 rows, and the 12-row video's windows of 6 rows starting at 0, 3, 6
    # each give offsets floor((i + 0.5) * 6 / 4) = 0, 2, 3, 5 -> rows {0 2 3 5} | {3 5 6 8} | {6 8 9 11}: 8 rows
    assert result.spatial["frames"] == 6 * 4 + 8
    assert result.spatial["frame_map"]["0.5"] == pytest.approx(1.0)
    # clap0 (action rows 2-4) sampled at 1, 3, 5, 7: only row 3 is action -> one kept row, shorter than
    # min_length 2 -> no segment; with min_length 1 it is [2.0 - ..] the midpoints of rows 1|3 and 3|5: [1.0, 2.0] s
    clap0 = next(p for p in predictions if p.record.video_id == "clap0")
    assert video_segments(clap0, TemporalConfig()) == []
    (start, end, _), *_ = video_segments(clap0, TemporalConfig(min_length=1))
    assert (start, end) == pytest.approx((1.0, 2.0))
