"""Convolutional LSTM over the feature cubes (Shi et al. 2015; the "Convolutional LSTM" baseline of VideoLSTM).

The reduced cubes X_t (R x K x K) feed a stack of ConvLSTM layers (one fused gate convolution per layer,
optional Hadamard peepholes; equations in ``_convlstm.py``), zero initial state, state carried over frames. The
top hidden state is average-pooled over the grid and classified:

    y_t = W (1/K^2) sum_{j,k} H_t[:, j, k] + b,      logits = (1/T) sum_t y_t = W pool((1/T) sum_t H_t) + b

Paper settings (VideoLSTM): 3x3 kernels, VGG-16 pool5 (512 channels). Defaults: 128 reduced channels, one layer
of 64 hidden channels, 3x3 kernels, no peepholes; ``separable=True`` makes every layer's convolutions
depthwise-separable (``_convlstm.py``). No attention: spatial and temporal are uniform.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.models._convlstm import ConvLSTMCell
from wherewhen.models._reduce import ChannelReducer, as_cubes, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput, uniform_spatial, uniform_temporal
from wherewhen.models.registry import register_model


@register_model("convlstm")
class ConvLSTM(VideoModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_channels: int = 64,
        layers: int = 1,
        kernel_size: int = 3,
        peephole: bool = False,
        dropout: float = 0.5,
        separable: bool = False,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if layers < 1:
            raise ConfigError(f"convlstm: needs at least one layer, got {layers}")
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        self.cells = nn.ModuleList(
            ConvLSTMCell(
                self.reduce.out_channels if i == 0 else hidden_channels,
                hidden_channels,
                kernel_size,
                peephole,
                grid,
                separable=separable,
            )
            for i in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        seq = self.dropout(as_cubes(self.reduce(as_rows(cubes, self))))  # (B, T, C, K, K)
        # Layer by layer: each layer's input convolution runs once over all frames, only W_h* * H_{t-1} per step
        # (the dropout between layers draws the whole clip's mask at once: same distribution, other draw order).
        for i, cell in enumerate(self.cells):
            inp = seq if i == 0 else self.dropout(seq)
            w_x, w_h = cell.split_weights()
            x_gates = cell.input_gates(inp.flatten(0, 1), w_x).unflatten(0, (b, t))
            state = cell.update(x_gates[:, 0], cell.zero_state(b, self.grid, inp)[1])  # H_0 = 0: no W_h* * H_0
            hidden = [state[0]]
            for step in range(1, t):
                state = cell.step(x_gates[:, step], state, w_h)
                hidden.append(state[0])
            seq = torch.stack(hidden, dim=1)
        pooled = seq.mean(dim=(3, 4))
        frame_logits = self.classifier(self.dropout(pooled))
        return ModelOutput(
            logits=frame_logits.mean(dim=1),
            spatial=uniform_spatial(b, t, self.grid, frame_logits),
            temporal=uniform_temporal(b, t, frame_logits),
            frame_logits=frame_logits,
        )
