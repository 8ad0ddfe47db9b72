"""Loading weight files safely (no pickle) with one-line errors."""

from __future__ import annotations

from pathlib import Path

import torch

from wherewhen.errors import WeightsError


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict from a .pth/.pt (``weights_only``) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for a bad file
        raise WeightsError(path, f"not a readable weights file ({type(exc).__name__}: {str(exc)[:120]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(path, "does not hold a state dict of tensors")
    return state
