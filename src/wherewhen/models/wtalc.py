"""Class activations with top-k multiple-instance pooling: W-TALC ("W-TALC: Weakly-supervised Temporal Activity
Localization and Classification", Paul, Roy, Roy-Chowdhury, ECCV 2018) over the T x K x K cells of a clip.

Every cell is an instance with an embedding and a class activation (the class activation map of all cells):

    e_{t,i} = dropout(ReLU(W_e x_{t,i} + b_e))                                       (embedding)
    A_{t,i,c} = w_c^T e_{t,i} + b_c                                                 (class activations)
    s_c = (1/k) sum of the k largest A_{t,i,c} over all cells,  k = ceil(T K^2 / topk_divisor)   (MIL, eq. 1)
    logits = s

Co-activity similarity (CASL, eqs. 3-5): for each class c a softmax over the cells, a^c = softmax_{t,i}(A_{:,:,c}),
pools a high- and a low-attention feature of every video,

    H^c = sum a^c_{t,i} e_{t,i},   L^c = sum (1 - a^c_{t,i}) e_{t,i} / (N - 1),     d(u, v) = 1 - cos(u, v)

and every pair of videos m, n of the batch that share class c pays
``(max(0, d(H_m, H_n) - d(H_m, L_n) + delta) + max(0, d(H_m, H_n) - d(L_m, H_n) + delta)) / 2``: what two videos of
one class attend to should look alike, and unlike what the other leaves out. The loss is
``(1 - lambda_casl) CE + lambda_casl CASL`` (the paper's lambda = 0.5). W-TALC pools over T snippets with
k = ceil(T / 8); over space and time the action fills a far smaller share of the instances, hence
``topk_divisor = 64``.

Outputs (class-agnostic, from the predicted class c* = argmax s): a = softmax over all cells of A_{:,:,c*};
spatial = a / sum_i a per frame; temporal = sum_i a per frame; frame_logits = max_i A_{t,i,:}.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel, target_probabilities
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model


@register_model("wtalc")
class WeaklySupervisedActivity(VideoModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        embed_dim: int = 128,
        dropout: float = 0.5,
        topk_divisor: int = 64,
        lambda_casl: float = 0.5,
        casl_margin: float = 0.5,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.topk_divisor = topk_divisor
        self.lambda_casl = lambda_casl
        self.casl_margin = casl_margin
        self.embed = ChannelReducer(in_channels, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.activation = nn.Linear(self.embed.out_channels, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        e = self.dropout(self.embed(as_rows(cubes, self).flatten(1, 3)))  # (B, N, E)
        cas = self.activation(e)  # A (B, N, C)
        k = max(1, math.ceil(cas.shape[1] / self.topk_divisor))
        logits = cas.topk(k, dim=1).values.mean(dim=1)
        top = logits.detach().argmax(dim=1)
        a = cas.gather(2, top.view(b, 1, 1).expand(-1, cas.shape[1], 1)).squeeze(-1).softmax(dim=1)
        per_frame = a.view(b, t, self.grid, self.grid)
        temporal = per_frame.sum(dim=(2, 3))
        tiny = torch.finfo(temporal.dtype).tiny
        return ModelOutput(
            logits=logits,
            spatial=per_frame / temporal.clamp_min(tiny)[:, :, None, None],
            temporal=temporal,
            frame_logits=cas.view(b, t, -1, self.num_classes).amax(dim=2),
            extras={"cas": cas, "embedding": e},
        )

    def loss_terms(self, output: ModelOutput, targets: Tensor) -> dict[str, Tensor]:
        ce = super().loss_terms(output, targets)["ce"]
        present = target_probabilities(targets, self.num_classes) > 0
        casl = co_activity_loss(output.extras["cas"], output.extras["embedding"], present, self.casl_margin)
        return {"ce": (1 - self.lambda_casl) * ce, "casl": self.lambda_casl * casl}


def co_activity_loss(cas: Tensor, embedding: Tensor, present: Tensor, margin: float) -> Tensor:
    """W-TALC's CASL over the pairs of videos that share a class (0 when no pair does).

    cas (B, N, C), embedding (B, N, E), present (B, C) bool: the classes each video shows."""
    n = cas.shape[1]
    attention = cas.softmax(dim=1)  # (B, N, C)
    high = torch.einsum("bnc,bne->bce", attention, embedding)
    low = torch.einsum("bnc,bne->bce", (1 - attention) / (n - 1), embedding)
    high, low = F.normalize(high, dim=-1), F.normalize(low, dim=-1)
    d_hh = 1 - torch.einsum("mce,nce->cmn", high, high)  # (C, B, B)
    d_hl = 1 - torch.einsum("mce,nce->cmn", high, low)  # d(H_m, L_n)
    d_lh = d_hl.transpose(1, 2)  # d(L_m, H_n)
    pairs = present.T[:, :, None] & present.T[:, None, :]  # (C, B, B)
    pairs &= ~torch.eye(cas.shape[0], dtype=torch.bool, device=cas.device)
    if not pairs.any():
        return cas.new_zeros(())
    hinge = 0.5 * (F.relu(d_hh - d_hl + margin) + F.relu(d_hh - d_lh + margin))
    return hinge[pairs].mean()
