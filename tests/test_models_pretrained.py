"""Saved model folders: round trip without pickle, and one-line errors for missing, truncated or edited files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wherewhen.errors import CheckpointError
from wherewhen.features.store import StoreInfo
from wherewhen.models import VideoModel, build_model
from wherewhen.models.pretrained import from_pretrained, save_pretrained
from wherewhen.models.stam import SpatioTemporalAttention

CLASSES = ["wave", "point", "clap"]
INFO = StoreInfo(
    backbone="efficientnet_lite0", input_size=224, grid=3, channels=8, sampling={"method": "uniform", "frames": 4},
    classes=CLASSES,
)  # fmt: skip


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = build_model("softmax_cube", num_classes=3, in_channels=8, grid=3, dropout=0.25)
    directory = save_pretrained(model, tmp_path / "model", classes=CLASSES, features=INFO, extra={"epoch": 4})
    return directory, model


def test_round_trip_gives_the_same_model(saved: tuple[Path, torch.nn.Module]) -> None:
    directory, model = saved
    assert sorted(p.name for p in directory.iterdir()) == ["classes.txt", "config.json", "model.safetensors"]
    loaded = from_pretrained(directory)
    assert loaded.classes == CLASSES
    assert loaded.features == INFO
    assert loaded.config["format"] == "wherewhen-model/1" and loaded.config["extra"] == {"epoch": 4}
    assert loaded.model.build_kwargs == {"dropout": 0.25} and not loaded.model.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    cubes = torch.rand(2, 4, 8, 3, 3)
    model.eval()
    assert torch.equal(loaded.model(cubes).logits, model(cubes).logits)
    # Saving again replaces the directory as a whole and leaves no temporary folders behind.
    save_pretrained(loaded.model, directory, classes=CLASSES, features=INFO)
    assert sorted(p.name for p in directory.parent.iterdir()) == ["model"]


def test_a_later_default_does_not_change_a_saved_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model("stam", num_classes=3, in_channels=8, grid=3, reduce_dim=4, hidden_channels=4)
    assert model.build_kwargs["energy"] == "sum" and model.build_kwargs["reduce_dim"] == 4  # every argument
    directory = save_pretrained(model, tmp_path / "model", classes=CLASSES, features=INFO)
    # energy has no weights of its own: with only the given arguments saved, the model would load as another one
    monkeypatch.setitem(SpatioTemporalAttention.__init__.__kwdefaults__, "energy", "mean")
    loaded = from_pretrained(directory).model
    assert loaded.energy == "sum" and loaded.build_kwargs == model.build_kwargs
    cubes = torch.rand(1, 4, 8, 3, 3)
    model.eval()
    assert torch.equal(loaded(cubes).logits, model(cubes).logits)


def _error(directory: Path) -> str:
    with pytest.raises(CheckpointError) as exc:
        from_pretrained(directory)
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_truncated_weights(saved: tuple[Path, torch.nn.Module]) -> None:
    directory, _ = saved
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    text = _error(directory)
    assert text.startswith(str(weights)) and "truncated" in text


def test_tampered_weights_same_size(saved: tuple[Path, torch.nn.Module]) -> None:
    directory, _ = saved
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    text = _error(directory)
    assert text.startswith(str(weights)) and "sha256" in text


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda c: c.update(num_classes=4), "classes do not match num_classes"),
        (lambda c: c.update(classes=["a", "b", "c"]), "class names differ"),
        (lambda c: c.update(format="wherewhen-model/9"), "cannot read it"),
        (lambda c: c.update(in_channels=16), "weights do not fit softmax_cube"),
        (lambda c: c["build_kwargs"].update(depth=3), "cannot rebuild the model"),
        (lambda c: c["weights"].update(sha256="0" * 64), "sha256"),
        (lambda c: c.pop("features"), "missing features"),
    ],
)
def test_tampered_config(saved: tuple[Path, torch.nn.Module], edit: object, fragment: str) -> None:
    directory, _ = saved
    path = directory / "config.json"
    config = json.loads(path.read_text())
    edit(config)  # type: ignore[operator]
    path.write_text(json.dumps(config))
    assert fragment in _error(directory)


def test_broken_or_missing_files(saved: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    directory, _ = saved
    config = directory / "config.json"
    config.write_text(config.read_text()[:50])
    assert "not valid JSON" in _error(directory)
    config.unlink()
    assert _error(directory).startswith(str(config))
    assert "missing" in _error(tmp_path / "nowhere")


def test_a_model_saved_before_the_preprocessing_tag_reads_as_resize_then_crop(
    saved: tuple[Path, torch.nn.Module],
) -> None:
    directory, _ = saved
    assert from_pretrained(directory).features.preprocessing == "centred-square"
    path = directory / "config.json"
    config = json.loads(path.read_text())
    del config["features"]["preprocessing"]
    path.write_text(json.dumps(config))
    features = from_pretrained(directory).features
    assert features.preprocessing == "resize-then-crop" and features.compatible_with(INFO) == ["preprocessing"]


def test_the_model_saves_and_its_class_loads_the_folder(tmp_path: Path) -> None:
    model = build_model("softmax_cube", num_classes=3, in_channels=8, grid=3)
    folder = model.save_pretrained(tmp_path / "model", classes=CLASSES, features=INFO)
    loaded = VideoModel.from_pretrained(folder)
    assert loaded.classes == CLASSES and type(loaded.model) is type(model)
    assert type(model).from_pretrained(folder).features == INFO
    with pytest.raises(CheckpointError, match="holds a softmax_cube model, not a SpatioTemporalAttention"):
        SpatioTemporalAttention.from_pretrained(folder)


@pytest.mark.parametrize(
    ("built_with", "dropped"),
    [
        ({"motion_columns": 1}, ("motion_columns",)),  # saved before the bands: the frame's mean flow
        ({"motion_context": False}, ("motion_context", "motion_columns")),  # saved before the motion read-out
    ],
)
def test_a_model_saved_before_a_keyword_existed_loads_as_it_was(
    tmp_path: Path, built_with: dict[str, object], dropped: tuple[str, ...]
) -> None:
    """A keyword added later (``added_keywords``) rebuilds an older saved model at the value it had before."""
    torch.manual_seed(0)
    model = build_model("attention_pool", num_classes=3, in_channels=8, grid=3, flow=True, **built_with)
    directory = save_pretrained(model, tmp_path / "model", classes=CLASSES, features=replace(INFO, flow=True))
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text())
    for key in dropped:
        del config["build_kwargs"][key]
    config_path.write_text(json.dumps(config))
    loaded = from_pretrained(directory).model
    older = {key: model.added_keywords[key] for key in dropped}
    assert loaded.build_kwargs == model.build_kwargs | older
    rgb, flow = torch.rand(2, 4, 8, 3, 3), torch.rand(2, 4, 8, 3, 3)
    model.eval()
    assert torch.equal(loaded(rgb, flow).logits, model(rgb, flow).logits)
