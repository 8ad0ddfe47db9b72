"""Soft spatial attention LSTM (Sharma, Kiros, Salakhutdinov 2015, "Action Recognition using Visual Attention").

With reduced feature slices x_{t,i} (i over the L = K*K cells) and the top LSTM layer's h_{t-1}:

    e_{t,i}     = w^T tanh(W_x x_{t,i} + W_h h_{t-1} + b)        (an MLP of the slice and the previous state)
    alpha_{t,i} = exp(e_{t,i}) / sum_j exp(e_{t,j})               (softmax over the K*K locations)
    x^_t        = sum_i alpha_{t,i} x_{t,i}                       (the LSTM input)
    h_t, c_t    = LSTM(x^_t, h_{t-1}, c_{t-1})                    (1 to 3 layers, state carried over frames)
    y_t         = W_y h_t + b_y,   p = (1/T) sum_t softmax(y_t),   logits = log p

h_0 and c_0 of every layer come from an MLP of the clip's mean feature (1/T) sum_t (1/L) sum_i x_{t,i}.

Regularizer ``doubly_stochastic`` = lambda_ds * mean over videos of sum_i (1 - sum_t alpha_{t,i})^2 (no division
by L or T; with uniform attention it is (L - T)^2 / L per video, 7.367 for L = 49, T = 30). Sharma et al. report
lambda in {0, 1, 10}; the default is 1.

Outputs: spatial = alpha (B, T, K, K), sums to 1 per frame; temporal uniform; frame_logits = y_t.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.losses import doubly_stochastic
from wherewhen.models._heads import log_weighted_probability
from wherewhen.models._lstm import MeanFeatureInit, StackedLSTM
from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_temporal
from wherewhen.models.registry import register_model


@register_model("alstm")
class AttentionLSTM(VideoModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_size: int = 256,
        layers: int = 1,
        attention_size: int = 128,
        dropout: float = 0.5,
        lambda_ds: float = 1.0,
        deep_output: bool = False,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if not 1 <= layers <= 3:
            raise ConfigError(f"alstm: supports 1 to 3 LSTM layers, got {layers}")
        self.lambda_ds = lambda_ds
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        feat = self.reduce.out_channels
        self.att_x = nn.Linear(feat, attention_size)
        self.att_h = nn.Linear(hidden_size, attention_size, bias=False)
        self.att_score = nn.Linear(attention_size, 1, bias=False)  # a bias cancels in the softmax
        self.init_state = MeanFeatureInit(feat, hidden_size, layers)
        self.lstm = StackedLSTM(feat, hidden_size, layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.context_out = nn.Linear(in_channels, num_classes, bias=False) if deep_output else None

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        rows = as_rows(cubes, self).flatten(2, 3)  # (B, T, L, D)
        slices = self.reduce(rows)  # (B, T, L, R)
        state = self.init_state(slices.mean(dim=(1, 2)))
        keys = self.att_x(slices)  # (B, T, L, A): the x part of the attention MLP, for all frames at once
        alphas, hiddens = [], []
        for step in range(t):
            h_prev = state[-1][0]
            scores = self.att_score(torch.tanh(keys[:, step] + self.att_h(h_prev).unsqueeze(1))).squeeze(-1)
            alpha = scores.softmax(dim=-1)  # (B, L)
            attended = (alpha.unsqueeze(-1) * slices[:, step]).sum(dim=1)
            top, state = self.lstm(self.dropout(attended), state)
            alphas.append(alpha)
            hiddens.append(top)
        alpha = torch.stack(alphas, dim=1)  # (B, T, L)
        frame_logits = self.classifier(self.dropout(torch.stack(hiddens, dim=1)))
        if self.context_out is not None:
            context = torch.einsum("btl,btld->btd", alpha, rows)
            frame_logits = frame_logits + self.context_out(self.dropout(context))
        return ModelOutput(
            logits=log_weighted_probability(frame_logits),
            spatial=alpha.view(b, t, self.grid, self.grid),
            temporal=uniform_temporal(b, t, frame_logits),
            frame_logits=frame_logits,
            regularizers={"doubly_stochastic": self.lambda_ds * doubly_stochastic(alpha)},
        )
