"""Training checkpoints for exact resume: model, optimizer, scheduler, gradient scaler, RNG states, epoch.

``checkpoints/last.pt`` is written with ``torch.save`` to a temporary name and renamed, so it is always a complete
checkpoint of a finished epoch. It holds only tensors and plain Python values and is read with
``weights_only=True``. ``checkpoints/last.json`` repeats the epoch in plain text for people and scripts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wherewhen.atomic import atomic_path, atomic_write_text
from wherewhen.backbones.weights import load_error
from wherewhen.errors import CheckpointError

CHECKPOINT_FORMAT = "wherewhen-checkpoint/1"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (plus the format tag) and its epoch summary next to it."""
    state = {"format": CHECKPOINT_FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    summary = {"epoch": state.get("epoch"), "finished": state.get("finished", False)}
    atomic_write_text(path.with_suffix(".json"), json.dumps(summary) + "\n")


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint without unpickling arbitrary objects; problems are one-line CheckpointErrors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found; the run did not finish its first epoch")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file (struct.error for a few junk bytes)
        raise CheckpointError(path, f"truncated or not a wherewhen checkpoint ({load_error(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(path, f"format {found!r} is not {CHECKPOINT_FORMAT!r}")
    return state


def capture_rng() -> dict[str, Any]:
    """The state of every random generator a training step may draw from (torch CPU and CUDA, NumPy, Python)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
