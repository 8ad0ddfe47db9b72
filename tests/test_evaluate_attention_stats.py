"""Where a model's attention sits on the ground truth: the statistics a run logs each epoch, hand-computed, and
logged by a real training run on a store with boxes and segments."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from wherewhen.evaluate.attention_stats import attention_means, attention_sums


def test_statistics_of_one_hand_made_clip() -> None:
    # T = 2 frames of a 2 x 2 grid. Frame 0 holds the box (cell (0, 0)) and is the segment.
    spatial = torch.tensor([[[[0.5, 0.25], [0.25, 0.0]], [[0.25, 0.25], [0.25, 0.25]]]])
    temporal = torch.tensor([[0.75, 0.25]])
    box = torch.zeros(1, 2, 2, 2, dtype=torch.bool)
    box[0, 0, 0, 0] = True
    segment = torch.tensor([[True, False]])
    means = attention_means(attention_sums(spatial, temporal, box, segment))
    # joint a = [0.375, 0.1875, 0.1875, 0] and [0.0625] * 4
    joint = [0.375, 0.1875, 0.1875] + [0.0625] * 4
    assert means["entropy"] == pytest.approx(-sum(a * math.log(a) for a in joint))
    assert means["box_mass"] == pytest.approx(0.375)
    assert means["segment_mass"] == pytest.approx(0.75)
    assert means["pointing"] == pytest.approx(1.0)  # frame 0's maximal cell is the box's


def test_masks_are_made_distributions_and_clips_without_truth_are_left_out() -> None:
    mask = torch.zeros(2, 1, 2, 2)
    mask[:, 0, 1, 1] = 0.5  # a [0, 1] mask: one cell open
    temporal = torch.ones(2, 1)
    box = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    box[0, 0, 0, 0] = True  # only clip 0 has a box, and the mask misses it
    segment = torch.zeros(2, 1, dtype=torch.bool)
    means = attention_means(attention_sums(mask, temporal, box, segment))
    assert means["entropy"] == pytest.approx(0.0)
    assert means["box_mass"] == pytest.approx(0.0) and means["pointing"] == pytest.approx(0.0)
    assert "segment_mass" not in means


def test_a_run_logs_attention_statistics_each_epoch(embedded_features: tuple[Path, Any], tmp_path: Path) -> None:
    from wherewhen.train import train
    from wherewhen.train.config import load_config

    _, store = embedded_features
    run = load_config(
        values={"data.store": str(store.root), "model.name": "attention_pool"},
        overrides=["train.epochs=2", "train.progress=false", "data.val_fraction=0.5"],
    )
    train(run, tmp_path / "run", verbose=False)
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        assert 0 <= float(row["val_attention_entropy"]) <= math.log(8 * 49) + 1e-6
        assert 0 <= float(row["val_attention_box_mass"]) <= float(row["val_attention_segment_mass"]) <= 1
        assert 0 <= float(row["val_attention_pointing"]) <= 1
