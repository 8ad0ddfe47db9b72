"""Convolutional LSTM cell (Shi et al. 2015) and the convolutional initializer of its state.

One fused convolution over the concatenation [X_t, H_{t-1}] gives all four gates (order i, f, o, g):

    I_t = sigma(W_xi * X_t + W_hi * H_{t-1} + w_ci . C_{t-1} + b_i)
    F_t = sigma(W_xf * X_t + W_hf * H_{t-1} + w_cf . C_{t-1} + b_f)
    G_t = tanh(W_xc * X_t + W_hc * H_{t-1} + b_c)
    C_t = F_t . C_{t-1} + I_t . G_t
    O_t = sigma(W_xo * X_t + W_ho * H_{t-1} + w_co . C_t + b_o)
    H_t = O_t . tanh(C_t)

``*`` is convolution, ``.`` the elementwise product; the peephole weights w_c* (C x K x K, Hadamard as in Shi et
al.) exist only with ``peephole=True``. The forget-gate bias starts at 1 so early gradients flow through time.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError

GATES = ("i", "f", "o", "g")


class ConvLSTMCell(nn.Module):
    def __init__(
        self, in_channels: int, hidden_channels: int, kernel_size: int = 3, peephole: bool = False, grid: int = 7
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ConfigError(f"ConvLSTM kernel_size must be odd to keep the grid size, got {kernel_size}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size, padding=kernel_size // 2
        )
        with torch.no_grad():
            self.gates.bias.zero_()
            self.gates.bias[hidden_channels : 2 * hidden_channels].fill_(1.0)
        self.peephole = peephole
        if peephole:
            self.w_ci = nn.Parameter(torch.zeros(hidden_channels, grid, grid))
            self.w_cf = nn.Parameter(torch.zeros(hidden_channels, grid, grid))
            self.w_co = nn.Parameter(torch.zeros(hidden_channels, grid, grid))

    def zero_state(self, batch: int, grid: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """(H_0, C_0) = 0 with the dtype and device of ``like``."""
        zeros = like.new_zeros(batch, self.hidden_channels, grid, grid)
        return zeros, zeros

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """x (B, C_in, K, K), state (H, C) each (B, C_h, K, K) -> (H_t, C_t)."""
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        if self.peephole:
            i = i + self.w_ci * c
            f = f + self.w_cf * c
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + self.w_co * c_new
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, c_new


class ConvStateInit(nn.Module):
    """(H_0, C_0) from the clip's mean feature map with two convolutions each.

    g(x) = conv3x3(ReLU([BN](conv3x3(x)))); H_0 = tanh(g_h(mean_t X_t)), C_0 = g_c(mean_t X_t).
    """

    def __init__(self, in_channels: int, hidden_channels: int, batch_norm: bool = False) -> None:
        super().__init__()

        def branch() -> nn.Sequential:
            layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden_channels, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(hidden_channels))
            layers += [nn.ReLU(), nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1)]
            return nn.Sequential(*layers)

        self.h = branch()
        self.c = branch()

    def forward(self, mean_map: Tensor) -> tuple[Tensor, Tensor]:
        return torch.tanh(self.h(mean_map)), self.c(mean_map)
