"""Convolutional LSTM cell (Shi et al. 2015) and the convolutional initializer of its state.

One fused convolution over the concatenation [X_t, H_{t-1}] gives all four gates (order i, f, o, g):

    I_t = sigma(W_xi * X_t + W_hi * H_{t-1} + w_ci . C_{t-1} + b_i)
    F_t = sigma(W_xf * X_t + W_hf * H_{t-1} + w_cf . C_{t-1} + b_f)
    G_t = tanh(W_xc * X_t + W_hc * H_{t-1} + b_c)
    C_t = F_t . C_{t-1} + I_t . G_t
    O_t = sigma(W_xo * X_t + W_ho * H_{t-1} + w_co . C_t + b_o)
    H_t = O_t . tanh(C_t)

``*`` is convolution, ``.`` the elementwise product; peephole weights w_c* only with ``peephole=True``; the
forget-gate bias starts at 1. Convolution is linear, so models that know every input split the kernel
(``split_weights``): W_x* * X_t for all frames is one batched convolution (``input_gates``), each ``step`` only
convolves H_{t-1}. ``input_kernel_size`` gives W_x* its own size (two convolutions, initialized at the fused
kernel's scale: at their own fan-in stam trained far worse). ``separable=True`` makes both depthwise-separable
(Liu and Zhu 2018's Bottleneck-LSTM): gates = W_1x1 [D_x * X_t, D_h * H_{t-1}] + b.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.errors import ConfigError

GATES = ("i", "f", "o", "g")


class ConvLSTMCell(nn.Module):
    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        peephole: bool = False,
        grid: int = 7,
        input_kernel_size: int | None = None,
        separable: bool = False,
    ) -> None:
        super().__init__()
        if separable and input_kernel_size is not None:
            raise ConfigError("ConvLSTM: separable=True and input_kernel_size exclude each other; pass one of them")
        input_kernel_size = input_kernel_size or kernel_size
        for name, size in (("kernel_size", kernel_size), ("input_kernel_size", input_kernel_size)):
            if size % 2 != 1:
                raise ConfigError(f"ConvLSTM {name} must be odd to keep the grid size, got {size}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.fused = input_kernel_size == kernel_size
        pad = kernel_size // 2
        self.input_depthwise = (
            nn.Conv2d(in_channels, in_channels, kernel_size, padding=pad, groups=in_channels, bias=False)
            if separable
            else None
        )
        self.state_depthwise = (
            nn.Conv2d(hidden_channels, hidden_channels, kernel_size, padding=pad, groups=hidden_channels, bias=False)
            if separable
            else None
        )
        gate_kernel = 1 if separable else kernel_size
        # fused: one kernel over [X_t, H_{t-1}]; else W_x* in ``input`` and W_h* (with the bias) in ``gates``
        self.input = (
            None
            if self.fused
            else nn.Conv2d(
                in_channels, 4 * hidden_channels, input_kernel_size, bias=False, padding=input_kernel_size // 2
            )
        )
        self.gates = nn.Conv2d(
            in_channels * self.fused + hidden_channels, 4 * hidden_channels, gate_kernel, padding=gate_kernel // 2
        )
        with torch.no_grad():
            if self.input is not None or separable:
                bound = ((in_channels + hidden_channels) * kernel_size * kernel_size) ** -0.5
                self.gates.weight.uniform_(-bound, bound)
            if self.input is not None:
                self.input.weight.uniform_(-bound, bound)
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

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor], weight: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (B, C_in, K, K), state (H, C) each (B, C_h, K, K) -> (H_t, C_t).

        ``weight``: the fused kernel from ``fused_weight()``.
        """
        if not self.fused:
            assert self.input is not None
            return self.step(self.input_gates(x, self.input.weight), state, self.gates.weight)
        h, c = state
        weight = self.gates.weight if weight is None else weight
        if self.input_depthwise is not None and self.state_depthwise is not None:
            x, h = self.input_depthwise(x), self.state_depthwise(h)
        return self.update(F.conv2d(torch.cat([x, h], dim=1), weight, self.gates.bias, padding=self.gates.padding), c)

    def fused_weight(self) -> Tensor | None:
        """The fused kernel; None when the input kernel has its own size (nothing to fuse)."""
        return self.gates.weight if self.fused else None

    def split_weights(self) -> tuple[Tensor, Tensor]:
        """The input kernel W_x* (4 C_h, C_in, k_x, k_x) and the hidden one W_h* (4 C_h, C_h, k, k), as contiguous
        copies: call once per clip, not per step."""
        if self.fused:
            w_x, w_h = self.gates.weight.split([self.in_channels, self.hidden_channels], dim=1)
        else:
            assert self.input is not None
            w_x, w_h = self.input.weight, self.gates.weight
        return w_x.contiguous(), w_h.contiguous()

    def input_gates(self, x: Tensor, w_x: Tensor, bias: bool = True) -> Tensor:
        """W_x* * x + b (or without b) for any batch of inputs (N, C_in, K, K), e.g. all frames of a clip at once."""
        if self.input_depthwise is not None:
            x = self.input_depthwise(x)
        return F.conv2d(x, w_x, self.gates.bias if bias else None, padding=w_x.shape[-1] // 2)

    def step(self, x_gates: Tensor, state: tuple[Tensor, Tensor], w_h: Tensor) -> tuple[Tensor, Tensor]:
        """One step from precomputed x_gates = W_x* * X_t + b: the same as forward(X_t, state)."""
        h, c = state
        if self.state_depthwise is not None:
            h = self.state_depthwise(h)
        return self.update(F.conv2d(h, w_h, padding=self.gates.padding).add_(x_gates), c)

    def update(self, gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """(H_t, C_t) from the pre-activation gates W_x* * X_t + W_h* * H_{t-1} + b (B, 4 C_h, K, K) and C_{t-1}."""
        if self.peephole:
            i, f, o, g = gates.chunk(4, dim=1)
            i = i + self.w_ci * c
            f = f + self.w_cf * c
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o + self.w_co * c_new) * torch.tanh(c_new)
            return h_new, c_new
        hidden = self.hidden_channels
        i, f, o = torch.sigmoid(gates[:, : 3 * hidden]).chunk(3, dim=1)  # i, f, o are adjacent: one call
        c_new = torch.addcmul(f * c, i, torch.tanh(gates[:, 3 * hidden :]))
        return o * torch.tanh(c_new), c_new


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
