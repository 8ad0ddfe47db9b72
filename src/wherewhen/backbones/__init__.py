"""ImageNet CNNs that turn frames into feature cubes, by name."""

from __future__ import annotations

from pathlib import Path

import torch

from wherewhen.backbones import efficientnet_lite
from wherewhen.backbones.base import Backbone, BackboneSpec
from wherewhen.errors import ConfigError

DEFAULT_BACKBONE = "efficientnet_lite0"


def available_backbones() -> list[str]:
    from wherewhen.backbones.torchvision_cnns import RECIPES  # torchvision takes seconds to import; see load_backbone

    return [DEFAULT_BACKBONE, *RECIPES]


def load_backbone(
    name: str = DEFAULT_BACKBONE, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> Backbone:
    """Build a backbone with its ImageNet weights (never downloaded) on ``device``, in eval mode."""
    if name == DEFAULT_BACKBONE:
        backbone = efficientnet_lite.build(weights)
    else:
        from wherewhen.backbones import torchvision_cnns  # torchvision only when asked for: seconds per fresh process

        if name not in torchvision_cnns.RECIPES:
            raise ConfigError(f"unknown backbone {name!r}; available: {', '.join(available_backbones())}")
        backbone = torchvision_cnns.build(name, weights)
    return backbone.to(device).eval()


__all__ = ["DEFAULT_BACKBONE", "Backbone", "BackboneSpec", "available_backbones", "load_backbone"]
