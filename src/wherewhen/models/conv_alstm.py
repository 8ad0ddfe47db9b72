"""Convolutional attention LSTM (VideoLSTM, Li, Gavrilyuk, Gavves, Jain, Snoek 2016/2018).

The attention map comes from a shallow conv net of the current reduced cube X_t and the previous hidden state:

    Z_t   = W_z * tanh(W_xa * X_t + W_ha * H_{t-1} + b_a)          (1x1 kernels by default, as in the paper)
    A_t   = softmax over the K x K cells of Z_t                      (sums to 1 per frame)
    X~_t  = K^2 A_t . X_t                                            (every channel weighted by the map)
    H_t, C_t = ConvLSTM(X~_t, H_{t-1}, C_{t-1})                      (3x3 kernels; equations in _convlstm.py)
    y_t   = W pool(H_t) + b,   logits = (1/T) sum_t y_t

The factor K^2 makes uniform attention leave X_t unchanged; it is a constant the input convolution could absorb
(the paper writes A_t . X_t) and only keeps the ConvLSTM input at the scale of a frame at initialization.
H_0 = tanh(g_h(m)), C_0 = g_c(m) with two 3x3 convolutions each on the mean reduced cube m = (1/T) sum_t X_t.

Paper settings: VGG-16 pool5 (512 channels), 30-frame subsequences, 3x3 recurrent kernels, 1x1 attention kernels.
Defaults: 128 reduced channels, 64 hidden channels, 32 attention channels, dropout 0.5. ``separable=True`` makes
the ConvLSTM's convolutions depthwise-separable (``_convlstm.py``; measured in docs/models.md).

Outputs: spatial = A_t (sums to 1 per frame); temporal uniform; frame_logits = y_t. No regularizers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.models._convlstm import ConvLSTMCell, ConvStateInit
from wherewhen.models._heads import grid_softmax
from wherewhen.models._reduce import ChannelReducer, as_cubes, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_temporal
from wherewhen.models.registry import register_model


class ConvAttentionLSTM(VideoModel):
    """Shared body of conv_alstm and motion_alstm; subclasses choose what drives the attention."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_channels: int = 64,
        attention_channels: int = 32,
        kernel_size: int = 3,
        attention_kernel: int = 1,
        peephole: bool = False,
        dropout: float = 0.5,
        deep_output: bool = False,
        separable: bool = False,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        feat = self.reduce.out_channels
        # motion_alstm: flow cubes get their own 1x1 reduction and drive the attention instead of X_t
        self.reduce_flow = ChannelReducer(in_channels, reduce_dim) if self.uses_flow else None
        pad = attention_kernel // 2
        self.att_x = nn.Conv2d(feat, attention_channels, attention_kernel, padding=pad)
        self.att_h = nn.Conv2d(hidden_channels, attention_channels, attention_kernel, padding=pad, bias=False)
        self.att_z = nn.Conv2d(attention_channels, 1, attention_kernel, padding=pad, bias=False)  # cancels in softmax
        self.init_state = ConvStateInit(feat, hidden_channels, batch_norm=False)
        self.cell = ConvLSTMCell(feat, hidden_channels, kernel_size, peephole, grid, separable=separable)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self.context_out = nn.Linear(in_channels, num_classes, bias=False) if deep_output else None

    def attention_source(self, x: Tensor, flow: Tensor | None) -> Tensor:
        """(B, T, C, K, K) maps that, with H_{t-1}, decide the attention: the reduced flow cube, else X itself."""
        if self.reduce_flow is not None and flow is not None:
            return as_cubes(self.reduce_flow(as_rows(flow, self)))
        return x

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        rows = as_rows(cubes, self)  # (B, T, K, K, D)
        x = as_cubes(self.reduce(rows))
        source = self.attention_source(x, flow)
        keys = self.att_x(source.flatten(0, 1)).unflatten(0, (b, t))  # the X part of the attention, all frames
        state = self.init_state(x.mean(dim=1))
        scaled = float(self.grid * self.grid) * x  # K^2 X_t
        weight = self.cell.fused_weight()  # X~_t depends on H_{t-1}: one fused gate convolution per step
        maps, hidden = [], []
        for step in range(t):
            attention = grid_softmax(self.att_z(torch.tanh(self.att_h(state[0]).add_(keys[:, step]))))  # (B,1,K,K)
            state = self.cell(self.dropout(scaled[:, step] * attention), state, weight)
            maps.append(attention)
            hidden.append(state[0])
        frame_logits = self.classifier(self.dropout(torch.stack(hidden, dim=1).mean(dim=(3, 4))))
        spatial = torch.cat(maps, dim=1)
        if self.context_out is not None:
            context = torch.einsum("btkl,btkld->btd", spatial, rows)
            frame_logits = frame_logits + self.context_out(self.dropout(context))
        return ModelOutput(
            logits=frame_logits.mean(dim=1),
            spatial=spatial,
            temporal=uniform_temporal(b, t, frame_logits),
            frame_logits=frame_logits,
        )


@register_model("conv_alstm")
class ConvALSTM(ConvAttentionLSTM):
    pass
