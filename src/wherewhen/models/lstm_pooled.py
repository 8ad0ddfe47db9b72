"""Average- and max-pooled LSTM baselines (LRCN, Donahue et al. 2015; baselines of "Where and When Counts").

Each frame's cube is reduced (1x1 conv, ``reduce_dim``) and pooled over the K x K grid to one vector,

    x_t = (1/K^2) sum_i r_{t,i}   (lstm_avg)      or      x_t = max_i r_{t,i}   (lstm_max),

a multi-layer LSTM reads x_1 .. x_T with its state carried from frame to frame (zero initial state), each top
hidden state gives frame scores y_t = W h_t + b, and the video's probabilities are their mean,
p = (1/T) sum_t softmax(y_t), returned as ``logits = log p``. No attention: spatial and temporal are uniform.

Paper settings ("Where and When Counts", UCF-11): 3 layers of 512, dropout 0.5, 30 frames. Defaults here are
smaller (1 layer of 256 on 128 reduced channels) so CPU training takes minutes.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from wherewhen.models._heads import log_weighted_probability
from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_spatial, uniform_temporal
from wherewhen.models.registry import register_model


class PooledLSTM(VideoModel):
    pooling: ClassVar[str] = "avg"

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_size: int = 256,
        layers: int = 1,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            self.reduce.out_channels, hidden_size, num_layers=layers, batch_first=True, dropout=dropout * (layers > 1)
        )
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        reduced = self.reduce(as_rows(cubes, self)).flatten(2, 3)  # (B, T, K*K, R)
        pooled = reduced.mean(dim=2) if self.pooling == "avg" else reduced.amax(dim=2)
        hidden, _ = self.lstm(self.dropout(pooled))  # one call over all T frames: state carried between frames
        frame_logits = self.classifier(self.dropout(hidden))
        return ModelOutput(
            logits=log_weighted_probability(frame_logits),
            spatial=uniform_spatial(b, t, self.grid, frame_logits),
            temporal=uniform_temporal(b, t, frame_logits),
            frame_logits=frame_logits,
        )


@register_model("lstm_avg")
class AvgPooledLSTM(PooledLSTM):
    pooling = "avg"


@register_model("lstm_max")
class MaxPooledLSTM(PooledLSTM):
    pooling = "max"
