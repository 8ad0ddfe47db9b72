"""Extra model inputs go through the model contract: a model declares them (``VideoModel.extra_inputs``) and
``wherewhen.models.inputs`` builds them the same way for training, evaluation and explanation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from test_train_support import make_store
from wherewhen.errors import CheckpointError, ConfigError
from wherewhen.evaluate.predict import ClipPlan, predict_records
from wherewhen.models import available_models, build_model
from wherewhen.models.inputs import FRAME_MASK, InputSources, clip_inputs, declared_inputs, sources_of_run
from wherewhen.train import load_config, train
from wherewhen.train.data import ClipDataset, collate
from wherewhen.train.engine import to_device

C, D, K, T = 3, 16, 3, 8


def given_model() -> torch.nn.Module:
    return build_model("lrcn_st", num_classes=C, in_channels=D, grid=K, temporal="given", reduce_dim=8).eval()


def test_only_the_given_lrcn_st_declares_an_input() -> None:
    declaring = {
        name: declared_inputs(build_model(name, num_classes=C, in_channels=D, grid=K)) for name in available_models()
    }
    assert all(names == () for names in declaring.values())  # every model by default, lrcn_st's soft included
    assert declared_inputs(given_model()) == (FRAME_MASK,)
    wrapped = torch.nn.Module()
    wrapped.module = given_model()  # as DDP holds it
    assert declared_inputs(wrapped) == (FRAME_MASK,)


def test_the_builder_marks_the_chosen_rows_of_a_clip() -> None:
    sources = InputSources(selection={"a": [2, 3, 9]})
    assert clip_inputs((FRAME_MASK,), sources, "a", [0, 2, 3, 5])[FRAME_MASK].tolist() == [0, 1, 1, 0]
    assert clip_inputs((FRAME_MASK,), sources, "b", [0, 1])[FRAME_MASK].tolist() == [1, 1]  # not chosen: every row
    assert clip_inputs((FRAME_MASK,), sources, "a", [0, 1])[FRAME_MASK].tolist() == [1, 1]  # none in this clip
    chosen = InputSources(selection={"a": [2]}, chosen=[1])  # the rows chosen for the one explained video win
    assert clip_inputs((FRAME_MASK,), chosen, "a", [0, 1, 2])[FRAME_MASK].tolist() == [0, 1, 0]
    assert clip_inputs((), sources, "a", [0, 1]) == {}


def test_to_device_hands_over_what_the_model_declares() -> None:
    batch = {"rgb": torch.zeros(2, T, D, K, K), "label": torch.tensor([0, 1]), "frame_mask": torch.ones(2, T)}
    inputs, _ = to_device(batch, torch.device("cpu"), (FRAME_MASK,))
    assert set(inputs) == {"cubes", FRAME_MASK}
    assert set(to_device(batch, torch.device("cpu"))[0]) == {"cubes"}  # undeclared: not passed
    del batch["frame_mask"]
    with pytest.raises(ConfigError, match="takes 'frame_mask' but the data gives none"):
        to_device(batch, torch.device("cpu"), (FRAME_MASK,))


def test_evaluation_builds_the_mask_as_training_does(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", videos=4, classes=C, frames=T, channels=D, grid=K)
    records = store.records()
    selection = {records[0].video_id: [1, 4], records[1].video_id: [7]}
    model = given_model()
    predictions = predict_records(model, store, records, store.info.classes, sources=InputSources(selection))
    expected = {records[0].video_id: [0, 0.5, 0, 0, 0.5, 0, 0, 0], records[1].video_id: [0] * 7 + [1.0]}
    for p in predictions:
        weights = expected.get(p.record.video_id, [1 / T] * T)  # a video without a selection: every row
        assert np.allclose(p.clips[0].temporal, weights)
    dataset = ClipDataset(store, records, store.info.classes, T, train=False, selection=selection, inputs=(FRAME_MASK,))
    batch = collate([dataset[0], dataset[1]])
    mask = batch[FRAME_MASK]
    with torch.inference_mode():
        trained_way = model(batch["rgb"], frame_mask=mask).temporal
    assert np.allclose(trained_way.numpy(), [p.clips[0].temporal for p in predictions[:2]])
    unselected = predict_records(model, store, records[:1], store.info.classes, plan=ClipPlan())
    assert np.allclose(unselected[0].clips[0].temporal, 1 / T)  # no selection at all: every row counts
    with pytest.raises(ConfigError, match="needs frame_mask"):  # the model itself still refuses to guess
        model(batch["rgb"])


def test_training_asks_for_the_selection_the_model_takes(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", videos=6, frames=4)
    sets = ["train.epochs=1", "train.progress=false", "model.name=lrcn_st", "model.temporal=given"]
    with pytest.raises(ConfigError, match=r"takes a frame selection: set data\.frame_selection"):
        train(load_config(None, sets, values={"data.store": str(store.root)}), tmp_path / "run", verbose=False)
    soft = ["train.epochs=1", "train.progress=false", "model.name=lrcn_st", f"data.frame_selection={tmp_path}/s.json"]
    with pytest.raises(ConfigError, match="takes no frame selection"):
        train(load_config(None, soft, values={"data.store": str(store.root)}), tmp_path / "run2", verbose=False)


def test_a_run_names_its_selection_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "chosen.json").write_text(json.dumps({"v1": [0, 2]}))
    (run / "config.yaml").write_text(f"data:\n  frame_selection: {tmp_path / 'chosen.json'}\n")
    assert sources_of_run(run, (FRAME_MASK,)).selection == {"v1": [0, 2]}
    assert sources_of_run(run, ()).selection is None  # a model without the input reads nothing
    (run / "config.yaml").write_text("data:\n  frame_selection: gone.json\n")
    with pytest.raises(CheckpointError, match=r"data\.frame_selection names gone\.json, which is not there"):
        sources_of_run(run, (FRAME_MASK,))
