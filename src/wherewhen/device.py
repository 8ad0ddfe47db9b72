"""Which torch device a command runs on, from what the user wrote (``auto``, ``cpu``, ``cuda``, ``cuda:N``)."""

from __future__ import annotations

import torch

from wherewhen.errors import ConfigError


def resolve_device(choice: str, local_rank: int = 0, option: str = "train.device") -> torch.device:
    """``auto`` is the process's GPU when CUDA is present, else the CPU; errors name the setting as ``option``."""
    if choice == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise ConfigError(f"{option}={choice!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option}={choice!r} but CUDA is not available here; use {option}=cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        if device.index >= torch.cuda.device_count():
            raise ConfigError(f"{option}={choice!r} but only {torch.cuda.device_count()} GPUs are visible")
    elif device.type != "cpu":
        raise ConfigError(f"{option}={choice!r} is not supported; use auto, cpu, cuda or cuda:N")
    return device
