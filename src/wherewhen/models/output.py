"""The one object every model returns; losses, evaluation, localization and explanation read only this."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class ModelOutput:
    """What a model says about a batch of clips.

    logits:       (B, C) video-level scores; ``softmax(logits)`` are the class probabilities. Models that
                  average per-frame probabilities return the log of that average.
    spatial:      (B, T, K, K) where the model looked in each frame: a distribution over the K*K cells
                  (sums to 1) or a mask in [0, 1]. Uniform (1 / K^2) for models without spatial attention.
    temporal:     (B, T) how much each frame counts; sums to 1 over T. Uniform for models without it.
    frame_logits: (B, T, C) per-frame scores where the model makes them, else None.
    regularizers: named scalar loss terms, already multiplied by their weights (lambda); the training loss is
                  cross-entropy plus their sum.
    extras:       anything else a model wants to expose (for example REINFORCE log-probabilities).
    """

    logits: Tensor
    spatial: Tensor
    temporal: Tensor
    frame_logits: Tensor | None = None
    regularizers: dict[str, Tensor] = field(default_factory=dict)
    extras: dict[str, Tensor] = field(default_factory=dict)

    def probabilities(self) -> Tensor:
        return self.logits.softmax(dim=-1)

    def detach(self) -> ModelOutput:
        return ModelOutput(
            logits=self.logits.detach(),
            spatial=self.spatial.detach(),
            temporal=self.temporal.detach(),
            frame_logits=None if self.frame_logits is None else self.frame_logits.detach(),
            regularizers={k: v.detach() for k, v in self.regularizers.items()},
            extras={k: v.detach() for k, v in self.extras.items()},
        )


def uniform_spatial(batch: int, frames: int, grid: int, like: Tensor) -> Tensor:
    """(B, T, K, K) uniform attention for models that do not attend in space."""
    return torch.full((batch, frames, grid, grid), 1.0 / (grid * grid), dtype=like.dtype, device=like.device)


def uniform_temporal(batch: int, frames: int, like: Tensor) -> Tensor:
    """(B, T) uniform weights for models that do not attend in time."""
    return torch.full((batch, frames), 1.0 / frames, dtype=like.dtype, device=like.device)
