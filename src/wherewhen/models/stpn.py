"""Sparse foreground attention pooling: STPN ("Weakly Supervised Action Localization by Sparse Temporal Pooling
Network", Nguyen, Liu, Prasad, Han, CVPR 2018) over the T x K x K cells of a clip instead of its T snippets.

Every cell gets an independent foreground weight from a two-layer scorer of its reduced feature
h_{t,i} = ReLU(W_r x_{t,i} + b_r):

    lambda_{t,i} = sigmoid(w_2^T ReLU(W_1 h_{t,i} + b_1) + b_2)               in [0, 1]   (STPN eq. 1)
    z            = sum_{t,i} lambda_{t,i} x_{t,i} / sum_{t,i} lambda_{t,i}                  (eq. 2, normalized)
    logits       = W_c dropout(z) + b_c
    loss         = cross-entropy + beta * mean_{t,i} lambda_{t,i}                            (eq. 4, L1 sparsity)

A sigmoid gate does not make cells compete as a softmax does: every cell showing the action can open its gate, so
the gates trace the whole action region and segment, which thresholds turn into boxes and segments. STPN divides
the weighted sum by T; dividing by the gates' total keeps z on the scale of one cell's feature however many gates
open. The classifier reads the backbone's D features (as ``attention_pool``), the scorer the reduced ones.

Outputs: spatial = lambda (a mask in [0, 1]); temporal = each frame's share of the gates' total,
sum_i lambda_{t,i} / sum_{t,i} lambda_{t,i}; frame_logits = W_c z_t + b_c with z_t the gated mean of frame t;
regularizer "sparsity" = beta * mean(lambda).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model


@register_model("stpn")
class SparseTemporalPooling(VideoModel):
    # alone, the gates open on whatever separates the few training clips; taught by the default model's run they
    # learn the action's cells (two validation draws, docs/models.md; ``train.attention_teacher=`` trains it alone)
    recommended_training: ClassVar[dict[str, Any]] = {"train.attention_teacher": "attention_pool"}

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 64,
        attention_size: int = 64,
        dropout: float = 0.3,
        beta: float = 0.1,
        gate_bias: float = 0.0,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.beta = beta
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        self.scorer = nn.Sequential(
            nn.Linear(self.reduce.out_channels, attention_size), nn.ReLU(), nn.Linear(attention_size, 1)
        )
        with torch.no_grad():
            self.scorer[-1].bias.fill_(gate_bias)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        x = as_rows(cubes, self).flatten(2, 3)  # (B, T, L, D)
        gates = torch.sigmoid(self.scorer(self.reduce(x)).squeeze(-1))  # lambda (B, T, L)
        tiny = torch.finfo(gates.dtype).tiny
        per_frame = torch.einsum("btl,btld->btd", gates, x)  # sum_i lambda_{t,i} x_{t,i}
        frame_mass = gates.sum(dim=2)
        z = per_frame.sum(dim=1) / frame_mass.sum(dim=1, keepdim=True).clamp_min(tiny)
        frame_features = per_frame / frame_mass.unsqueeze(-1).clamp_min(tiny)
        return ModelOutput(
            logits=self.classifier(self.dropout(z)),
            spatial=gates.view(b, t, self.grid, self.grid),
            temporal=frame_mass / frame_mass.sum(dim=1, keepdim=True).clamp_min(tiny),
            frame_logits=self.classifier(frame_features),
            regularizers={"sparsity": self.beta * gates.mean()},
        )
