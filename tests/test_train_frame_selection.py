"""Training lrcn_st with hard temporal attention from a human frame selection file (data.frame_selection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from test_train_support import make_store
from wherewhen.errors import ConfigError
from wherewhen.features.frame_selection import load_frame_selection
from wherewhen.models.pretrained import from_pretrained
from wherewhen.train import load_config, train
from wherewhen.train.data import ClipDataset, collate


def test_selection_becomes_the_models_temporal_attention(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", videos=12, frames=8)
    records = store.records()
    selection = {r.video_id: [2, 3] for r in records[:6]}  # the other videos: every frame counts
    path = tmp_path / "selected.json"
    path.write_text(json.dumps(selection))

    selection = load_frame_selection(path)
    dataset = ClipDataset(
        store, records, store.info.classes, 8, train=False, selection=selection, inputs=("frame_mask",)
    )
    batch = collate([dataset[0], dataset[7]])
    assert batch["frame_mask"].tolist() == [[0, 0, 1, 1, 0, 0, 0, 0], [1] * 8]

    sets = ["train.epochs=2", "train.progress=false", "model.name=lrcn_st", "model.temporal=given"]
    sets += [f"data.frame_selection={path}"]
    result = train(load_config(None, sets, values={"data.store": str(store.root)}), tmp_path / "run", verbose=False)
    model = from_pretrained(result.model_dir).model
    cubes = store.load(records[0].video_id)["rgb"][None].float()
    out = model(cubes, frame_mask=batch["frame_mask"][:1])
    assert torch.allclose(out.temporal, torch.tensor([[0, 0, 0.5, 0.5, 0, 0, 0, 0]]))


def test_a_model_without_frame_selection_refuses_the_file(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", videos=6, frames=4)
    path = tmp_path / "selected.json"
    path.write_text("{}")
    sets = ["train.epochs=1", "train.progress=false", "model.name=softmax_cube", f"data.frame_selection={path}"]
    with pytest.raises(ConfigError, match="takes no frame selection"):
        train(load_config(None, sets, values={"data.store": str(store.root)}), tmp_path / "run", verbose=False)
