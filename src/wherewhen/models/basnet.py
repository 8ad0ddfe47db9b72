"""Background suppression: BaS-Net ("Background Suppression Network for Weakly-supervised Temporal Action
Localization", Lee, Uh, Byun, AAAI 2020) over the T x K x K cells of a clip.

Two branches share one class-activation layer over C + 1 classes (the last one is *background*); a filtering
module gives every cell a foreground weight:

    e_{t,i} = dropout(ReLU(W_e x_{t,i} + b_e))                                    (shared embedding)
    w_{t,i} = sigmoid(v_2^T ReLU(V_1 e_{t,i} + b_1) + b_2)                          (filtering module)
    A^base_{t,i} = U e_{t,i} + u,    A^supp_{t,i} = U (w_{t,i} e_{t,i}) + u           (C + 1 activations each)
    s^branch_c = (1/k) sum of the k largest A^branch_{t,i,c} over the cells,  k = ceil(T K^2 / topk_divisor)

The base branch sees everything, background included, and learns the label [y, background = 1]; the suppression
branch sees the cells through the filter and learns [y, background = 0], so the filter must drop the cells that
show background. Loss (eq. 8): CE(s^base, [y, 1]/2) + CE(s^supp, [y, 0]) + alpha * mean(w). BaS-Net filters T
snippets with temporal convolutions; here each cell is filtered from its own embedding.

Outputs: logits = the suppression branch's C action scores; spatial = w (a mask in [0, 1]); temporal = each
frame's share of the filter's total, sum_i w_{t,i} / sum_{t,i} w_{t,i}; frame_logits = max_i A^supp_{t,i,:C}.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel, target_probabilities
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model


@register_model("basnet")
class BackgroundSuppression(VideoModel):
    # alone, the gates open on whatever separates the few training clips; taught by the default model's run they
    # learn the action's cells (two validation draws, docs/models.md; ``train.attention_teacher=`` trains it alone)
    recommended_training: ClassVar[dict[str, Any]] = {"train.attention_teacher": "attention_pool"}

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        embed_dim: int = 128,
        filter_size: int = 64,
        dropout: float = 0.5,
        topk_divisor: int = 64,
        alpha: float = 1e-4,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.topk_divisor = topk_divisor
        self.alpha = alpha
        self.embed = ChannelReducer(in_channels, embed_dim)
        self.dropout = nn.Dropout(dropout)
        feat = self.embed.out_channels
        self.filter = nn.Sequential(nn.Linear(feat, filter_size), nn.ReLU(), nn.Linear(filter_size, 1))
        self.activation = nn.Linear(feat, num_classes + 1)  # the last class is background

    def mil(self, cas: Tensor) -> Tensor:
        k = max(1, math.ceil(cas.shape[1] / self.topk_divisor))
        return cas.topk(k, dim=1).values.mean(dim=1)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        e = self.dropout(self.embed(as_rows(cubes, self).flatten(1, 3)))  # (B, N, E)
        weights = torch.sigmoid(self.filter(e))  # w (B, N, 1)
        base = self.mil(self.activation(e))
        suppressed_cas = self.activation(weights * e)
        suppressed = self.mil(suppressed_cas)
        w = weights.view(b, t, self.grid, self.grid)
        frame_mass = w.sum(dim=(2, 3))
        tiny = torch.finfo(frame_mass.dtype).tiny
        return ModelOutput(
            logits=suppressed[:, : self.num_classes],
            spatial=w,
            temporal=frame_mass / frame_mass.sum(dim=1, keepdim=True).clamp_min(tiny),
            frame_logits=suppressed_cas.view(b, t, -1, self.num_classes + 1)[..., : self.num_classes].amax(dim=2),
            regularizers={"filter_l1": self.alpha * weights.mean()},
            extras={"base_scores": base, "suppressed_scores": suppressed},
        )

    def loss_terms(self, output: ModelOutput, targets: Tensor) -> dict[str, Tensor]:
        if "base_scores" not in output.extras:
            return super().loss_terms(output, targets)
        labels = target_probabilities(targets, self.num_classes)
        zero = labels.new_zeros(labels.shape[0], 1)
        base_target = torch.cat([labels, zero + 1], dim=1) / 2
        supp_target = torch.cat([labels, zero], dim=1)
        return {
            "ce": F.cross_entropy(
                output.extras["suppressed_scores"], supp_target, label_smoothing=self.label_smoothing
            ),
            "ce_base": F.cross_entropy(output.extras["base_scores"], base_target),
            **output.regularizers,
        }
