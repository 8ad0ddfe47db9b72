"""Clips from a real FeatureStore on disk, frame picking, and group-aware validation carving."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from test_train_support import make_store
from wherewhen.errors import ConfigError, FeatureStoreError
from wherewhen.train.data import ClipDataset, carve_validation, collate, plan_splits


def test_carving_keeps_groups_whole_and_classes_balanced() -> None:
    labels = [i % 3 for i in range(60)]
    groups: list[str | None] = [f"person{(i // 3) % 10}" for i in range(60)]
    val = carve_validation(labels, groups, 0.2, seed=1)
    val_groups = {g for g, v in zip(groups, val, strict=True) if v}
    train_groups = {g for g, v in zip(groups, val, strict=True) if not v}
    assert val_groups and not val_groups & train_groups
    assert sum(val) == 12
    assert Counter(lab for lab, v in zip(labels, val, strict=True) if v) == {0: 4, 1: 4, 2: 4}
    assert val == carve_validation(labels, groups, 0.2, seed=1)  # seeded
    # Without groups every video is its own group; stratification then is exact.
    val = carve_validation(labels, [None] * 60, 0.25, seed=0)
    assert Counter(lab for lab, v in zip(labels, val, strict=True) if v) == {0: 5, 1: 5, 2: 5}
    # Two people: one of them validates (a whole person), the other trains.
    val = carve_validation(labels[:12], ["a"] * 6 + ["b"] * 6, 0.2, seed=0)
    assert sum(val) == 6 and len({v for v in val[:6]}) == 1
    with pytest.raises(ConfigError, match="single group"):
        carve_validation(labels, ["same"] * 60, 0.2, seed=0)


def test_dataset_reads_real_store_files(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", splits={"train": 12, "test": 3}, frames=8, channels=6, grid=3)
    plan = plan_splits(store, train_split="train", val_split="", val_fraction=0.25, seed=0)
    assert len(plan.train) + len(plan.val) == 12 and plan.val
    assert not {r.video_id for r in plan.train} & {r.video_id for r in plan.val}
    assert all(r.split == "train" for r in plan.train + plan.val)  # the test split is never touched
    train = ClipDataset(store, plan.train, plan.classes, 4, train=True, jitter=True, seed=0)
    item = train[0]
    assert item["rgb"].shape == (4, 6, 3, 3) and item["rgb"].dtype == torch.float16
    assert item["label"] == plan.classes.index(plan.train[0].label)
    full = store.load(plan.train[0].video_id)["rgb"]
    assert any(torch.equal(item["rgb"][0], full[r]) for r in (0, 1))  # row from the first segment
    epochs = []
    for epoch in (1, 2, 1):
        train.set_epoch(epoch)
        epochs.append(torch.stack([train[i]["rgb"] for i in range(len(train))]))
    assert torch.equal(epochs[0], epochs[2]) and not torch.equal(epochs[0], epochs[1])
    val = ClipDataset(store, plan.val, plan.classes, 4, train=False)
    batch = collate([val[i] for i in range(len(val))])
    assert batch["rgb"].shape == (len(plan.val), 4, 6, 3, 3)
    centred = store.load(plan.val[0].video_id)["rgb"][[1, 3, 5, 7]]
    assert torch.equal(batch["rgb"][0], centred)


def test_split_errors(tmp_path: Path) -> None:
    store = make_store(tmp_path / "only_test", splits={"test": 6})
    with pytest.raises(FeatureStoreError) as exc:
        plan_splits(store, train_split="train", val_split="", val_fraction=0.2, seed=0)
    assert "no videos in split 'train'" in str(exc.value) and "test (6)" in str(exc.value)
    store = make_store(tmp_path / "store", splits={"train": 6})
    with pytest.raises(FeatureStoreError, match="no videos in validation split 'val'"):
        plan_splits(store, train_split="train", val_split="val", val_fraction=0.2, seed=0)
    plan = plan_splits(store, train_split="train", val_split="", val_fraction=0.0, seed=0)
    assert len(plan.train) == 6 and plan.val == []
