"""End to end on real footage: `wherewhen train` on the EfficientNet-Lite0 cubes of the 27 ud810 clips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from wherewhen.features.store import FeatureStore
from wherewhen.models.pretrained import from_pretrained
from wherewhen.train.data import ClipDataset, collate


def test_cli_trains_softmax_cube_on_ud810_and_the_model_loads_back(
    ud810_features: FeatureStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wherewhen.cli import main

    run = tmp_path / "run"
    main(["train", "--data", str(ud810_features.root), "--model", "softmax_cube", "--out", str(run), "-q",
          "--set", "train.epochs=10"])  # fmt: skip
    assert capsys.readouterr().out.strip() == str(run)

    # P1 is the test split; of P2 and P3 one whole person is carved out for validation.
    info = json.loads((run / "run.json").read_text())
    records = {r.video_id: r for r in ud810_features.records()}
    train_people = {records[v].group for v in info["splits"]["train"]}
    val_people = {records[v].group for v in info["splits"]["val"]}
    assert {*train_people, *val_people} == {"P2", "P3"} and len(train_people) == len(val_people) == 1
    assert info["splits"]["test"] == "test" and len(info["splits"]["val"]) == 9

    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert max(float(r["train_accuracy"]) for r in rows) == 1.0  # the cubes of one person are easy to fit

    # The saved model is the best epoch's: it reproduces that epoch's video-level validation accuracy.
    pre = from_pretrained(run / "model")
    assert pre.classes == ["A1", "A2", "A3"] and (pre.features.channels, pre.features.grid) == (1280, 7)
    assert pre.config["extra"]["epoch"] == info["best_epoch"]
    val = [records[v] for v in info["splits"]["val"]]
    batch = collate([ClipDataset(ud810_features, val, pre.classes, info["frames"], train=False)[i] for i in range(9)])
    with torch.no_grad():
        predicted = pre.model(batch["rgb"].float()).logits.argmax(-1)
    accuracy = float((predicted == batch["label"]).double().mean())
    assert (
        accuracy
        == pytest.approx(info["best_metric"])
        == pytest.approx(float(rows[info["best_epoch"] - 1]["val_accuracy"]))
    )
    assert accuracy > 1 / 3 + 1e-6  # better than chance on a person it never saw
