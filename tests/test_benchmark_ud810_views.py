"""The person-to-person views of ``benchmarks.ud810_accuracy --validation``: one person trains, another is scored."""

from __future__ import annotations

from pathlib import Path

import torch
from benchmarks.ud810_accuracy import person_view

from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo

CLASSES = ["A1", "A2", "A3"]


def fold_store(root: Path) -> FeatureStore:
    """A fold's store as the folder reader makes it: P3 is the test split, P1 and P2 train."""
    info = StoreInfo(backbone="test-cubes", input_size=224, grid=2, channels=3, sampling={"rows": 4}, classes=CLASSES)
    store = FeatureStore.create(root, info)
    for person in ("P1", "P2", "P3"):
        for label in CLASSES:
            video_id = f"PS7{label}{person}T1"
            record = FeatureRecord(
                video_id=video_id,
                video=f"{video_id}.avi",
                label=label,
                split="test" if person == "P3" else "train",
                group=person,
                frame_indices=[0, 1, 2, 3],
                clips=[[0, 1, 2, 3]],
                fps=30.0,
                num_frames=4,
                duration=4 / 30.0,
                frame_size=(64, 64),
                crop=(0.0, 0.0, 64.0, 64.0),
            )
            store.write(record, torch.full((4, 3, 2, 2), float(CLASSES.index(label))))
    store.write_manifest()
    return store


def test_a_view_trains_on_one_person_and_tests_another(tmp_path: Path) -> None:
    source = fold_store(tmp_path / "fold")
    view = FeatureStore(person_view(source.root, "P2", "P1", tmp_path / "view"))
    splits = {r.video_id: (r.group, r.split) for r in view.records()}
    assert splits == {f"PS7{a}{p}T1": (p, "train" if p == "P2" else "test") for a in CLASSES for p in ("P1", "P2")}
    assert view.info == source.info
    for record in view.records():  # the same cubes, through links
        assert torch.equal(view.load(record.video_id)["rgb"], source.load(record.video_id)["rgb"])
    # a second view in the same place replaces the first
    again = FeatureStore(person_view(source.root, "P1", "P2", tmp_path / "view"))
    assert {r.group for r in again.records() if r.split == "train"} == {"P1"}
