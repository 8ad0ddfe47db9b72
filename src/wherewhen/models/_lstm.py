"""A stack of LSTM cells stepped one frame at a time (for models whose input depends on h_{t-1}), and the MLP
that initializes its state from the clip's mean feature (Xu et al. 2015; Sharma et al. 2015):

    h_0^l = tanh(W_h^l u + b),  c_0^l = W_c^l u + b,  u = tanh(W_u m + b_u),  m = (1/T) sum_t (1/L) sum_i x_{t,i}
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError

State = list[tuple[Tensor, Tensor]]


class StackedLSTM(nn.Module):
    """``layers`` LSTM cells; layer l > 0 reads layer l-1's h_t through dropout. The state is carried across steps."""

    def __init__(self, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if layers < 1:
            raise ConfigError(f"an LSTM needs at least one layer, got {layers}")
        self.hidden_size = hidden_size
        self.cells = nn.ModuleList(
            nn.LSTMCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        for cell in self.cells:  # forget-gate bias 1 (gate order i, f, g, o in torch)
            with torch.no_grad():
                cell.bias_ih[hidden_size : 2 * hidden_size].fill_(1.0)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step: x (B, input_size) -> (top h_t, new state)."""
        new_state: State = []
        for i, (cell, (h, c)) in enumerate(zip(self.cells, state, strict=True)):
            h, c = cell(x if i == 0 else self.dropout(x), (h, c))
            new_state.append((h, c))
            x = h
        return x, new_state


class MeanFeatureInit(nn.Module):
    """Initial (h_0, c_0) of every layer from the mean feature vector of the clip (a two-layer MLP)."""

    def __init__(self, feature_size: int, hidden_size: int, layers: int) -> None:
        super().__init__()
        self.layers = layers
        self.hidden_size = hidden_size
        self.trunk = nn.Sequential(nn.Linear(feature_size, hidden_size), nn.Tanh())
        self.h = nn.Linear(hidden_size, layers * hidden_size)
        self.c = nn.Linear(hidden_size, layers * hidden_size)

    def forward(self, mean_feature: Tensor) -> State:
        u = self.trunk(mean_feature)
        hs = torch.tanh(self.h(u)).chunk(self.layers, dim=1)
        cs = self.c(u).chunk(self.layers, dim=1)
        return list(zip(hs, cs, strict=True))
