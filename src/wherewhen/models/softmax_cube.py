"""Softmax regression on the whole feature cube of each frame (baseline of "Where and When Counts").

For frame t with cube X_t (D x K x K, flattened): p_t = softmax(W vec(X_t) + b). The video's class
probabilities are the mean over frames, p = (1/T) sum_t p_t, and ``logits = log p``. No attention: spatial and
temporal outputs are uniform.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_spatial, uniform_temporal
from wherewhen.models.registry import register_model


@register_model("softmax_cube")
class SoftmaxCube(VideoModel):
    def __init__(self, num_classes: int, in_channels: int, grid: int, dropout: float = 0.5) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_channels * grid * grid, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        cubes = cubes.to(self.classifier.weight.dtype)
        frame_logits = self.classifier(self.dropout(cubes.flatten(2)))
        log_mean_prob = torch.logsumexp(frame_logits.log_softmax(-1), dim=1) - torch.log(
            torch.tensor(float(t), device=cubes.device)
        )
        return ModelOutput(
            logits=log_mean_prob,
            spatial=uniform_spatial(b, t, self.grid, cubes),
            temporal=uniform_temporal(b, t, cubes),
            frame_logits=frame_logits,
        )
