"""Every registered model trains, resumes bit-identically and loads back from its run directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from test_train_support import make_store
from wherewhen.features.store import FeatureStore
from wherewhen.models import available_models, model_class
from wherewhen.models.pretrained import from_pretrained
from wherewhen.train import load_config, resume_run, train
from wherewhen.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, FeatureStore]:
    root = tmp_path_factory.mktemp("models")
    return {flow: make_store(root / f"flow{flow}", splits={"train": 18}, flow=flow) for flow in (False, True)}


@pytest.mark.parametrize("name", available_models())
def test_model_trains_resumes_and_loads(name: str, stores: dict[bool, FeatureStore], tmp_path: Path) -> None:
    store = stores[model_class(name).uses_flow]
    sets = ["train.epochs=2", "train.progress=false", "data.batch_size=8"]
    values = {"data.store": str(store.root), "model.name": name}
    train(load_config(None, sets, values=values), tmp_path / "straight", verbose=False)
    train(load_config(None, sets, values=values), tmp_path / "split", stop_after_epoch=1, verbose=False)
    result = resume_run(tmp_path / "split", verbose=False)
    terms = {k.removeprefix("train/") for k in result.history[0] if k.startswith("train/")}
    assert {"loss", "ce", "accuracy"} <= terms
    a, b = (
        load_checkpoint(tmp_path / "straight/checkpoints/last.pt"),
        load_checkpoint(tmp_path / "split/checkpoints/last.pt"),
    )
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    pre = from_pretrained(result.model_dir)
    assert pre.model.name == name and pre.classes == store.info.classes and pre.features.flow == store.info.flow
