"""Temporal segment network baseline (Wang et al. 2016, "Temporal Segment Networks"), on cached feature cubes.

Each frame's cube is average-pooled over the grid (after the optional 1x1 reduction) and classified on its own,
y_t = W (1/K^2) sum_i r_{t,i} + b; the segmental consensus is the average of the class scores,

    logits = (1/|S|) sum_{t in S} y_t.

In training, with ``segments`` = k > 0, the T frames are cut into k equal segments and S holds one random frame
of each (TSN's sparse snippet sampling); in evaluation, and when ``segments`` is 0, S is every frame.
Paper settings: k = 3, dropout 0.8 before the classifier. Defaults: k = 3, dropout 0.5, no reduction.

Outputs: spatial uniform; temporal = 1/|S| on the frames in S (uniform in evaluation); frame_logits = y_t.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_spatial
from wherewhen.models.registry import register_model


def snippet_weights(batch: int, frames: int, segments: int, like: Tensor) -> Tensor:
    """(B, T) weights 1/k on one random frame in each of k equal segments (k clipped to T)."""
    k = min(segments, frames)
    bounds = torch.linspace(0, frames, k + 1).long().tolist()
    weights = like.new_zeros(batch, frames)
    for lo, hi in itertools.pairwise(bounds):
        picks = torch.randint(lo, max(hi, lo + 1), (batch,), device=like.device)
        weights[torch.arange(batch, device=like.device), picks] += 1.0 / k
    return weights


@register_model("tsn")
class TemporalSegmentNetwork(VideoModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = None,
        segments: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if segments < 0:
            raise ConfigError(f"tsn: segments must be 0 (all frames) or positive, got {segments}")
        self.segments = segments
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.reduce.out_channels, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        pooled = self.reduce(as_rows(cubes, self)).mean(dim=(2, 3))
        frame_logits = self.classifier(self.dropout(pooled))
        if self.training and self.segments > 0:
            weights = snippet_weights(b, t, self.segments, frame_logits)
        else:
            weights = frame_logits.new_full((b, t), 1.0 / t)
        return ModelOutput(
            logits=torch.einsum("bt,btc->bc", weights, frame_logits),
            spatial=uniform_spatial(b, t, self.grid, frame_logits),
            temporal=weights,
            frame_logits=frame_logits,
        )
