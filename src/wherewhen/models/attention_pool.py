"""Space-time attention pooling: gated attention multiple-instance pooling (Ilse, Tomczak, Welling 2018,
"Attention-based Deep Multiple Instance Learning") with the T x K x K cells of a clip as the instances.

Every cell of every frame is one instance. Its reduced feature h_{t,i} = ReLU(W_r x_{t,i} + b_r) scores

    s_{t,i} = w^T (tanh(V h_{t,i}) . sigmoid(U h_{t,i}))        (gated attention; U only with ``gated=True``)
    a_{t,i} = exp(s_{t,i}) / sum_{t',j} exp(s_{t',j})           (one softmax over all T * K^2 cells)
    z       = sum_{t,i} a_{t,i} x_{t,i}                         (the attended *unreduced* D-dim feature)
    logits  = W_c dropout(z) + b_c

One softmax over space and time makes the model pick where and when at once. The classifier reads the attended
backbone features (not the reduced ones): the reduction only has to learn what to look for, while the class is read
linearly from the D features of the attended cells. Ilse et al. pool the same embedding they score; reading the
input features instead is the ``z`` of their eq. 9 with the identity as the embedding.

``scorer="linear"`` scores each cell with one linear map of its (unreduced) feature, s_{t,i} = w^T x_{t,i}: the form
the pseudo-label refinement fits (``train.refine``, ``wherewhen.train.refine``), which turns a trained gated scorer
into a linear cell detector. ``reduce_dim``, ``attention_size`` and ``gated`` then go unused.
``scorer="linear_context"`` reads each cell beside the mean of its 3 x 3 neighbourhood in the frame (edge cells: of
the neighbours inside the grid), s_{t,i} = w^T [x_{t,i} ; n_{t,i}], n_{t,i} = mean_{j in N(i)} x_{t,j}: the form the
refinement fits with ``train.refine.DETECTOR_CONTEXT`` (docs/models.md).

``timing="frame_gate"`` (the form the refinement fits; ``timing="joint"``, the default, is the one softmax above)
lets each frame's best cell decide when; a bias b joins the scores:

    s_{t,i} = w^T x_{t,i} + b                                   (either scorer, plus b)
    p_{t,i} = exp(s_{t,i}) / sum_j exp(s_{t,j})                 (where: one softmax per frame)
    g_t     = sigmoid(max_i s_{t,i})                            (when: the frame's best cell is the cue)
    a_{t,i} = (g_t / sum_{t'} g_{t'}) p_{t,i}

One softmax over every cell gives nearly all the weight to the few frames that score highest; the gate saturates,
so every frame in which the cue shows counts about equally and the temporal weight covers the action's extent
(with the refined linear scorer, s is the detector's log-odds and g_t its probability that frame t holds the cue).

``uniform_start=True`` (the default; False starts from a random w, as Ilse et al.) sets w = 0: every s_{t,i} = 0,
so the first step pools all cells equally (average pooling, with either timing) and the attention departs from it
only as the labels ask (w gets its gradient at once, W_r, V and U from the second step).

``flow=True`` reads two streams: x_{t,i} = [x^rgb_{t,i} ; x^flow_{t,i}], the cell's RGB and optical-flow features
side by side (2D channels), for the scores and the read-out alike. Actions that differ by motion more than by
appearance (the same person raising one arm or both) are told apart by the flow cubes. ``flow=None`` (the default) is
decided by the features: the model reads flow whenever its store was extracted with it (``models.registry``).

With flow, ``motion_context=True`` (the default) also reads the motion of the attended frames as a whole, band
by band across the frame:

    m_{t,s} = mean of x^flow_{t,i} over the cells i of column band s   (s = 1..S, ``motion_columns`` = S)
    m_t     = [m_{t,1} ; ... ; m_{t,S}]                                (the frame's flow, left to right, S*D)
    logits  = W_c dropout(z) + W_m dropout(sum_t tau_t m_t) + b_c,   tau_t = sum_i a_{t,i}

The S bands split the K columns as adaptive average pooling does (K = 7, S = 3: columns 0-2, 2-4, 4-6); S = 1 is
the frame's mean flow. A few attended cells cannot say how many limbs move; the frame's flow can, and a still
background adds little to it. Bands across the frame say on which side it moves (one arm or both); bands up and
down would follow the person's height and the framing instead. The RGB frame's mean would add the scene and its
distractors, so RGB is read through the attention only.

Outputs: spatial = a_{t,i} / sum_j a_{t,j} (each frame's share of the attention, sums to 1 per frame);
temporal = sum_i a_{t,i} (sums to 1 over T); frame_logits = W_c x^_t [+ W_m m_t] + b_c with x^_t the frame's
attended feature (what the classifier says about that frame alone). No regularizers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model

SCORERS = ("gated", "linear", "linear_context")
TIMINGS = ("joint", "frame_gate")


@register_model("attention_pool")
class AttentionPooling(VideoModel):
    # chosen on validation (docs/models.md): clips mixed with another clip's rows teach the scorer the cue that holds
    # in every video, not the cells that happen to carry the label in one; the schedule ends after 700 updates,
    # before the attention drifts off the cue once the class is found, however large the training split; then the
    # attention is re-fitted as a linear cell detector on its own pseudo labels (train/refine.py)
    recommended_training: ClassVar[dict[str, Any]] = {
        "augment.mix": 0.5,
        "train.epochs": 80,
        "train.patience": 20,
        "train.max_steps": 700,
        "train.refine": True,
    }
    # chosen on two validation draws (docs/models.md): the gated scorer's softmax share of the frame falls off more
    # slowly around its peak than the actor's edge, so half the peak draws the box about a cell too wide; the
    # refined linear detector's falls off faster, so its box keeps less of the peak
    box_thresholds: ClassVar[dict[str, float]] = {"gated": 0.65, "linear": 0.25, "linear_context": 0.25}
    box_threshold = box_thresholds["gated"]
    # a flow model saved before the motion read-out had none; one saved before the bands read the frame's mean
    added_keywords: ClassVar[dict[str, Any]] = {"motion_context": False, "motion_columns": 1}

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 64,
        attention_size: int = 64,
        gated: bool = True,
        dropout: float = 0.3,
        normalize: bool = False,
        uniform_start: bool = True,
        flow: bool | None = None,
        motion_context: bool = True,
        motion_columns: int = 3,
        scorer: str = "gated",
        timing: str = "joint",
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if scorer not in SCORERS:
            raise ConfigError(f"attention_pool: scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
        if timing not in TIMINGS:
            raise ConfigError(f"attention_pool: timing must be one of {', '.join(TIMINGS)}, got {timing!r}")
        self.timing = timing
        self.uses_flow = bool(flow)
        self.box_threshold = self.box_thresholds[scorer]
        channels = in_channels * (2 if self.uses_flow else 1)
        linear = scorer.startswith("linear")
        self.reads_neighbourhood = scorer == "linear_context"
        self.reduce = ChannelReducer(channels, None if linear else reduce_dim)
        feat = self.reduce.out_channels
        self.att_v = None if linear else nn.Linear(feat, attention_size)
        self.att_u = nn.Linear(feat, attention_size) if gated and not linear else None
        # a bias cancels in one softmax over the cells; the frame gate reads it
        scored = feat * (2 if self.reads_neighbourhood else 1) if linear else attention_size
        self.att_w = nn.Linear(scored, 1, bias=timing == "frame_gate")
        if uniform_start:
            nn.init.zeros_(self.att_w.weight)
            if self.att_w.bias is not None:
                nn.init.zeros_(self.att_w.bias)
        self.norm = nn.BatchNorm1d(channels, affine=False) if normalize else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)
        if motion_columns < 1:
            raise ConfigError(f"attention_pool: motion_columns must be at least 1, got {motion_columns}")
        self.motion_columns = motion_columns
        reads_motion = self.uses_flow and motion_context
        self.motion_out = nn.Linear(in_channels * motion_columns, num_classes, bias=False) if reads_motion else None

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        x = as_rows(cubes, self).flatten(2, 3)  # (B, T, L, D)
        motion = None
        if flow is not None and self.uses_flow:
            flow_rows = as_rows(flow, self)  # (B, T, K, K, D)
            x = torch.cat([x, flow_rows.flatten(2, 3)], dim=-1)  # (B, T, L, 2D)
            motion = self.column_bands(flow_rows)  # m_t, (B, T, S D)
        scores = self.scores(x)  # (B, T, L)
        attention = self.attention(scores)
        per_frame = torch.einsum("btl,btld->btd", attention, x)  # sum_i a_{t,i} x_{t,i}
        pooled = per_frame.sum(dim=1)
        temporal = attention.sum(dim=2)
        frame_features = per_frame / temporal.clamp_min(torch.finfo(temporal.dtype).tiny).unsqueeze(-1)
        spatial = attention / temporal.clamp_min(torch.finfo(temporal.dtype).tiny).unsqueeze(-1)
        if self.norm is not None:
            # batch statistics need two clips: a lone clip (a last batch) reads the running ones
            if self.training and b == 1:
                pooled = nn.functional.batch_norm(pooled, self.norm.running_mean, self.norm.running_var, training=False)
            else:
                pooled = self.norm(pooled)
            frame_features = nn.functional.batch_norm(
                frame_features.flatten(0, 1), self.norm.running_mean, self.norm.running_var, training=False
            ).unflatten(0, (b, t))
        logits = self.classifier(self.dropout(pooled))
        frame_logits = self.classifier(frame_features)
        if self.motion_out is not None and motion is not None:
            logits = logits + self.motion_out(self.dropout(torch.einsum("bt,btd->bd", temporal, motion)))
            frame_logits = frame_logits + self.motion_out(motion)
        return ModelOutput(
            logits=logits,
            spatial=spatial.view(b, t, self.grid, self.grid),
            temporal=temporal,
            frame_logits=frame_logits,
        )

    def attention(self, scores: Tensor) -> Tensor:
        """(B, T, L) scores s -> (B, T, L) weights a, summing to 1 over each clip's cells (``timing``)."""
        return cell_attention(scores, self.timing)

    def scores(self, x: Tensor) -> Tensor:
        """(B, T, L, C) cell features -> (B, T, L) scores s: gated on the reduced features, or linear on the cells'
        (with their neighbourhoods' means beside them for ``linear_context``)."""
        if self.att_v is None:
            return self.att_w(with_neighbourhood(x, self.grid) if self.reads_neighbourhood else x).squeeze(-1)
        h = self.reduce(x)
        gate = torch.tanh(self.att_v(h))
        if self.att_u is not None:
            gate = gate * torch.sigmoid(self.att_u(h))
        return self.att_w(gate).squeeze(-1)

    def column_bands(self, flow_rows: Tensor) -> Tensor:
        """(B, T, K, K, D) flow rows -> (B, T, S D): m_t, the mean flow of each column band, left to right."""
        b, t, _, k, d = flow_rows.shape
        columns = flow_rows.mean(dim=2).reshape(b * t, k, d).transpose(1, 2)  # (B T, D, K): each column's mean
        bands = nn.functional.adaptive_avg_pool1d(columns, self.motion_columns)  # (B T, D, S)
        return bands.transpose(1, 2).reshape(b, t, self.motion_columns * d)


def with_neighbourhood(x: Tensor, grid: int) -> Tensor:
    """(..., L, C) cells of K x K frames -> (..., L, 2C): [x_i ; n_i], n_i the mean of the 3 x 3 cells around cell i
    (itself included; at the edges, of those inside the grid)."""
    frames = x.reshape(-1, grid, grid, x.shape[-1]).permute(0, 3, 1, 2)  # (N, C, K, K)
    means = nn.functional.avg_pool2d(frames, 3, stride=1, padding=1, count_include_pad=False)
    return torch.cat([x, means.permute(0, 2, 3, 1).reshape(x.shape)], dim=-1)


def cell_attention(scores: Tensor, timing: str) -> Tensor:
    """(B, T, L) scores -> (B, T, L) weights: one softmax over all cells, or a per-frame softmax times the frame's
    sigmoid gate on its best cell, the gates normalized over the clip (``timing="frame_gate"``)."""
    if timing == "joint":
        return scores.flatten(1).softmax(dim=1).view_as(scores)
    gate = torch.sigmoid(scores.amax(dim=2))  # g_t
    return (gate / gate.sum(dim=1, keepdim=True)).unsqueeze(-1) * scores.softmax(dim=2)
