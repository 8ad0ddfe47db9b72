"""Saved models: a folder with config.json, model.safetensors and classes.txt, loaded without pickle.

``save_pretrained`` writes one and ``from_pretrained`` reads it back (also as ``model.save_pretrained(folder, ...)``
and ``VideoModel.from_pretrained(folder)``, in the manner of Hugging Face transformers).

``config.json`` names the model and its constructor arguments, the class list, how the feature cubes were made
(:class:`StoreInfo`) and the sha256 and size of ``model.safetensors``, so a truncated or modified weights file is
caught before it is read. The folder is written next to its final place and swapped in, so a reader never sees a
half-written model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from wherewhen import __version__
from wherewhen.errors import CheckpointError, WherewhenError
from wherewhen.features.store import StoreInfo
from wherewhen.models.base import VideoModel
from wherewhen.models.registry import build_model, saved_kwargs

MODEL_FORMAT = "wherewhen-model/1"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CLASSES_NAME = "classes.txt"


@dataclass
class Pretrained:
    """A loaded model folder."""

    model: VideoModel  # in eval mode
    classes: list[str]
    features: StoreInfo  # how the training cubes were made (backbone, input size, sampling, flow)
    config: dict[str, Any]  # the parsed config.json


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_pretrained(
    model: VideoModel,
    folder: str | Path,
    *,
    classes: list[str],
    features: StoreInfo,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder`` (replacing an older one as a whole) and return it."""
    folder = Path(folder)
    if len(classes) != model.num_classes:
        raise CheckpointError(folder, f"{len(classes)} class names for a model with {model.num_classes} classes")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        # Clone so tensors that share storage (tied weights, views) are saved separately and contiguous.
        state = {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": MODEL_FORMAT})
        config = {
            "format": MODEL_FORMAT,
            "wherewhen_version": __version__,
            "model": model.name,
            "build_kwargs": model.build_kwargs,
            "num_classes": model.num_classes,
            "in_channels": model.in_channels,
            "grid": model.grid,
            "uses_flow": model.uses_flow,
            "classes": list(classes),
            "features": asdict(features),
            "weights": {
                "file": WEIGHTS_NAME,
                "sha256": sha256_file(tmp / WEIGHTS_NAME),
                "bytes": (tmp / WEIGHTS_NAME).stat().st_size,
            },
            "extra": extra or {},
        }
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CLASSES_NAME).write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
        _swap_in(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _swap_in(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by ``tmp``: rename the old one aside, rename the new one in, delete the old one."""
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """Parse and check ``config.json`` of a model folder (no weights are read)."""
    folder = Path(folder)
    path = folder / CONFIG_NAME
    if not folder.is_dir():
        raise CheckpointError(folder, "not a saved model directory (missing)")
    if not path.is_file():
        raise CheckpointError(path, "missing; not a saved model directory")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"not valid JSON ({exc}); the file is truncated or was edited") from None
    if not isinstance(config, dict):
        raise CheckpointError(path, "expected a JSON object")
    fmt = config.get("format")
    if fmt != MODEL_FORMAT:
        raise CheckpointError(path, f"format {fmt!r} is not {MODEL_FORMAT!r}; this wherewhen cannot read it")
    needed = ("model", "build_kwargs", "num_classes", "in_channels", "grid", "classes", "features", "weights")
    missing = [k for k in needed if k not in config]
    if missing:
        raise CheckpointError(path, f"missing {', '.join(missing)}")
    classes = config["classes"]
    if not isinstance(classes, list) or len(classes) != config["num_classes"]:
        raise CheckpointError(path, f"classes do not match num_classes={config['num_classes']}")
    classes_path = folder / CLASSES_NAME
    if classes_path.is_file():
        listed = classes_path.read_text(encoding="utf-8").splitlines()
        if listed != classes:
            raise CheckpointError(classes_path, f"class names differ from those in {CONFIG_NAME}")
    return config


def _features(config: dict[str, Any], path: Path) -> StoreInfo:
    data = config["features"]
    if not isinstance(data, dict):
        raise CheckpointError(path, "features must be a JSON object")
    try:
        return StoreInfo.from_dict(data)
    except TypeError as exc:
        raise CheckpointError(path, f"features: {exc}") from None


def from_pretrained(folder: str | Path, map_location: str = "cpu") -> Pretrained:
    """Rebuild the model from ``config.json`` and load ``model.safetensors`` after checking its size and sha256."""
    folder = Path(folder)
    config = read_model_config(folder)
    config_path = folder / CONFIG_NAME
    features = _features(config, config_path)
    weights = config["weights"]
    weights_path = folder / str(weights.get("file", WEIGHTS_NAME))
    if not weights_path.is_file():
        raise CheckpointError(weights_path, "missing; the model directory is incomplete")
    size = weights_path.stat().st_size
    if isinstance(weights.get("bytes"), int) and size != weights["bytes"]:
        raise CheckpointError(
            weights_path, f"truncated or replaced: {size} bytes, {CONFIG_NAME} says {weights['bytes']}"
        )
    if sha256_file(weights_path) != weights.get("sha256"):
        raise CheckpointError(weights_path, f"sha256 differs from the one in {CONFIG_NAME}: the file was modified")
    kwargs = config["build_kwargs"]
    if not isinstance(kwargs, dict):
        raise CheckpointError(config_path, "build_kwargs must be a JSON object")
    try:
        model = build_model(
            str(config["model"]),
            num_classes=int(config["num_classes"]),
            in_channels=int(config["in_channels"]),
            grid=int(config["grid"]),
            **saved_kwargs(str(config["model"]), kwargs),
        )
    except WherewhenError as exc:
        raise CheckpointError(config_path, f"cannot rebuild the model: {exc}") from None
    try:
        state = load_file(str(weights_path), device=map_location)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(weights_path, f"unreadable weights ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(weights_path, f"weights do not fit {config['model']} as configured: {detail}") from None
    model.to(map_location).eval()
    return Pretrained(model=model, classes=list(config["classes"]), features=features, config=config)
