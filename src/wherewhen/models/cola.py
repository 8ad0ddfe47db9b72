"""Snippet contrast: CoLA ("CoLA: Weakly-Supervised Temporal Action Localization with Snippet Contrastive
Learning", Zhang, Pan, Ke, Xie, Tai, CVPR 2021) over the T x K x K cells of a clip.

Classification as in W-TALC, plus an actionness per cell from which easy and hard cells are mined:

    e_{t,i} = dropout(ReLU(W_e x_{t,i} + b_e)),   A_{t,i,:} = W_c e_{t,i} + b_c            (embedding, activations)
    logits  = top-k mean of A over the cells,  k = ceil(N / topk_divisor),  N = T K^2
    act_{t,i} = sigmoid(sum_c A_{t,i,c})                                                 (actionness)

Hard snippet mining (sec. 3.3) on the (T, K, K) grid of each clip: B = 1[act > 0.5]; *hard actions* are cells of B
that an erosion by ``inner`` cells removes, *hard backgrounds* are cells outside B that a dilation by ``outer``
cells adds (boundaries, where the model hesitates); *easy actions* and *easy backgrounds* are the k_easy cells of
highest and lowest actionness. With unit-normalized embeddings, the snippet contrast (SniCo, eq. 6) is InfoNCE at
temperature tau: the mean hard-action embedding must match the mean easy-action embedding against every easy
background, and the mean hard-background embedding the mean easy-background one against every easy action.
Loss: CE + lambda_snico * SniCo (a clip without hard cells of a kind skips that half). Erosion and dilation are
3 x 3 x 3 min- and max-pools, ``inner`` and ``outer`` times.

Outputs: spatial = act (a mask in [0, 1]); temporal = each frame's share of the actionness' total;
frame_logits = max_i A_{t,i,:}.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model


@register_model("cola")
class SnippetContrast(VideoModel):
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
        dropout: float = 0.5,
        topk_divisor: int = 64,
        easy_divisor: int = 64,
        inner: int = 1,
        outer: int = 1,
        tau: float = 0.07,
        lambda_snico: float = 0.01,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.topk_divisor = topk_divisor
        self.easy_divisor = easy_divisor
        self.inner, self.outer = inner, outer
        self.tau = tau
        self.lambda_snico = lambda_snico
        self.embed = ChannelReducer(in_channels, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.activation = nn.Linear(self.embed.out_channels, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        e = self.dropout(self.embed(as_rows(cubes, self).flatten(1, 3)))  # (B, N, E)
        cas = self.activation(e)
        k = max(1, math.ceil(cas.shape[1] / self.topk_divisor))
        actionness = torch.sigmoid(cas.sum(dim=2))  # (B, N)
        act = actionness.view(b, t, self.grid, self.grid)
        frame_mass = act.sum(dim=(2, 3))
        tiny = torch.finfo(frame_mass.dtype).tiny
        return ModelOutput(
            logits=cas.topk(k, dim=1).values.mean(dim=1),
            spatial=act,
            temporal=frame_mass / frame_mass.sum(dim=1, keepdim=True).clamp_min(tiny),
            frame_logits=cas.view(b, t, -1, self.num_classes).amax(dim=2),
            regularizers={"snico": self.lambda_snico * self.snippet_contrast(e, act)} if self.training else {},
        )

    def snippet_contrast(self, embedding: Tensor, act: Tensor) -> Tensor:
        """SniCo over the clips of a batch: embedding (B, N, E), act (B, T, K, K)."""
        b, n = embedding.shape[:2]
        e = F.normalize(embedding, dim=-1)
        flat = act.detach().flatten(1)
        k_easy = max(1, math.ceil(n / self.easy_divisor))
        easy_action = flat.topk(k_easy, dim=1).indices
        easy_background = (-flat).topk(k_easy, dim=1).indices
        hard_action, hard_background = boundary_cells(act.detach() > 0.5, self.inner, self.outer)
        losses = []
        for i in range(b):
            ea, eb = e[i, easy_action[i]], e[i, easy_background[i]]
            for hard, positive, negatives in (
                (hard_action[i].flatten(), ea, eb),
                (hard_background[i].flatten(), eb, ea),
            ):
                if hard.any():
                    losses.append(info_nce(e[i, hard].mean(0), positive.mean(0), negatives, self.tau))
        return torch.stack(losses).mean() if losses else embedding.new_zeros(())


def boundary_cells(kept: Tensor, inner: int, outer: int) -> tuple[Tensor, Tensor]:
    """(hard actions, hard backgrounds) of a (B, T, K, K) bool mask: kept cells an erosion removes, and cells
    outside that a dilation adds (3 x 3 x 3 neighbourhoods, repeated ``inner`` and ``outer`` times)."""
    x = kept.float().unsqueeze(1)
    eroded, dilated = x, x
    for _ in range(inner):
        eroded = -F.max_pool3d(-eroded, 3, stride=1, padding=1)
    for _ in range(outer):
        dilated = F.max_pool3d(dilated, 3, stride=1, padding=1)
    return (x - eroded).squeeze(1) > 0, (dilated - x).squeeze(1) > 0


def info_nce(query: Tensor, positive: Tensor, negatives: Tensor, tau: float) -> Tensor:
    """-log(exp(q.k+/tau) / (exp(q.k+/tau) + sum_j exp(q.k-_j/tau))) for unit-normalized q and keys."""
    query, positive = F.normalize(query, dim=0), F.normalize(positive, dim=0)
    logits = torch.cat([(query @ positive).view(1), negatives @ query]) / tau
    return -logits.log_softmax(dim=0)[0]
