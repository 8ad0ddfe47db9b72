"""Loading weight files safely (no pickle) with one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from wherewhen.errors import WeightsError

_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_error(exc: BaseException) -> str:
    """One line on why ``torch.load(..., weights_only=True)`` failed, in our words: PyTorch's own message for a
    refused pickle is many lines of advice, some of it to load the file unsafely."""
    text = " ".join(str(exc).split())
    if "Weights only load failed" in text:
        found = _REFUSED_GLOBAL.search(text)
        what = f" ({found[1]})" if found else ""
        return f"holds pickled Python objects{what} besides tensors; refused, since loading them could run code"
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict from a .pth/.pt (``weights_only``) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "weights file not found")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for a bad file
        raise WeightsError(path, f"not a readable weights file ({load_error(exc)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(path, "does not hold a state dict of tensors")
    return state
