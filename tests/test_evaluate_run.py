"""`wherewhen evaluate RUN` on a run that `train` wrote: files, printed protocol, store checks, --force."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from matplotlib.image import imread

from test_evaluate_pipeline import CLASSES, D, K, make_video
from wherewhen.cli import main
from wherewhen.evaluate.runner import evaluate_run
from wherewhen.features.store import FeatureStore, StoreInfo
from wherewhen.train.config import load_config
from wherewhen.train.run import train


def make_store(root: Path, grid: int = K) -> FeatureStore:
    info = StoreInfo(
        backbone="test-cubes", input_size=224, grid=grid, channels=D, sampling={"rows": 8}, classes=CLASSES
    )
    store = FeatureStore.create(root, info)
    if grid != K:
        return store
    for label in CLASSES:
        for i in range(4):
            make_video(store, f"train_{label}{i}", label, 8, range(2, 5), "train", [list(range(8))])
        for i in range(2):
            make_video(store, f"{label}{i}", label, 8, range(2 + i, 5 + i), "test", [list(range(8))])
        for other in CLASSES:
            if other != label:  # validation videos that look like two classes at once
                make_video(
                    store, f"val_{label}_{other}", label, 8, range(2, 5), "val", [[0, 2, 4, 6, 1, 3, 5, 7]], other
                )
    make_video(store, "long_jump", "jump", 12, range(4, 8), "test", [list(range(s, s + 6)) for s in (0, 3, 6)])
    store.write_manifest()
    return store


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate_run")
    store = make_store(root / "store")
    overrides = ["train.epochs=3", "train.progress=false", "optim.lr=3e-2", "data.val_split=val", "train.device=cpu"]
    config = load_config(None, overrides, values={"data.store": str(store.root), "model.name": "softmax_cube"})
    return train(config, root / "run", verbose=False).run_dir


def test_evaluate_a_trained_run(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(run_dir), "--aggregate", "attention"])
    printed = capsys.readouterr().out
    out = run_dir / "eval-test"
    assert "Protocol (7 videos, split test)" in printed and "8 rows per clip at segment centres" in printed
    assert "temporal attention" in printed and f"wrote {out}" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["videos"] == 7 and metrics["config"]["clips"]["frames"] == 8  # T from run.json
    assert metrics["source"]["model"] == "softmax_cube"
    cls = metrics["classification"]
    # the class channel separates the classes; three epochs of a linear model learn it
    assert cls["top1"] == 1.0 and cls["mean_class_accuracy"] == 1.0
    # uniform attention: the whole crop against the 120 x 60 box (see test_evaluate_pipeline)
    assert metrics["spatial"]["mean_iou"] == pytest.approx(7200 / 58800)
    assert set(metrics["temporal"]["map"]) == {"0.1", "0.2", "0.3", "0.4", "0.5"}
    with open(out / "per_class.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == CLASSES and [r["videos"] for r in rows] == ["2", "2", "3"]
    assert imread(out / "confusion.png").shape[2] in (3, 4)
    with open(out / "predictions.csv", newline="") as f:
        videos = list(csv.DictReader(f))
    assert len(videos) == 7 and all(v["predicted"] == v["label"] for v in videos)  # top-1 is 1.0 above
    assert all(0 < float(v["confidence"]) <= 1 for v in videos)


def test_existing_output_needs_force(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    main(["evaluate", str(run_dir), "--out", str(out), "--clips", "1"])
    first = (out / "metrics.json").stat().st_mtime_ns
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run_dir), "--out", str(out)])
    assert exit_info.value.code == 2 and "--force" in capsys.readouterr().err
    main(["evaluate", str(run_dir), "--out", str(out), "--force", "--frames", "0"])
    assert (out / "metrics.json").stat().st_mtime_ns >= first
    assert json.loads((out / "metrics.json").read_text())["config"]["clips"]["frames"] == 0


def test_store_that_does_not_match_the_model(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = make_store(tmp_path / "other", grid=3)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run_dir), "--data", str(other.root), "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert "grid" in err and "store.json" in err


def test_validation_split_reproduces_the_engines_video_accuracy(run_dir: Path) -> None:
    # The engine picked the best epoch by video-level validation accuracy (clip probabilities averaged per video);
    # evaluating the saved model on the same split with the default protocol must give the same number.
    run = json.loads((run_dir / "run.json").read_text())
    result, _ = evaluate_run(run_dir, split="val", out=run_dir / "eval-val-check")
    assert result.classification is not None and result.num_videos == len(run["splits"]["val"]) == 6
    assert result.classification.top1 == pytest.approx(run["best_metric"])
