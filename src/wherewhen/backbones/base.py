"""What every backbone is: an ImageNet CNN that maps uint8 frames to its last convolutional map (B, D, K, K)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class BackboneSpec:
    """Input size and preprocessing of a backbone, and the shape of the map it returns at that size."""

    name: str
    input_size: int
    resize: int  # shorter side before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channels: int
    grid: int


class Backbone(nn.Module):
    """Wraps a feature network: ``forward`` takes uint8 frames (B, S, S, 3) and returns float (B, D, K, K).

    Normalization happens inside, on the backbone's device, so decoding workers hand over compact uint8 frames.
    """

    def __init__(self, spec: BackboneSpec, features: nn.Module, classifier: nn.Module | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.features = features
        self.classifier = classifier
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.eval()

    def preprocess(self, frames: Tensor) -> Tensor:
        """uint8 (B, S, S, 3) -> normalized float (B, 3, S, S) in channels-last memory layout."""
        x = frames.to(self.mean.device, non_blocking=True).permute(0, 3, 1, 2).float()
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last)

    def forward(self, frames: Tensor) -> Tensor:
        return self.features(self.preprocess(frames))

    def classify(self, frames: Tensor) -> Tensor:
        """ImageNet logits (B, 1000), for checking that the weights are real."""
        if self.classifier is None:
            raise NotImplementedError(f"{self.spec.name} has no ImageNet classifier attached")
        return self.classifier(self.forward(frames))

    @property
    def device(self) -> torch.device:
        return self.mean.device
