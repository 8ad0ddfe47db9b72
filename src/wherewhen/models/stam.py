"""Spatio-temporal attention ("Where and When to Look?", ICLR 2019 submission) over the reduced cubes X_i.

    M_i = sigmoid(conv(ReLU(BN(conv(ReLU(BN(conv(X_i)))))))),   X~_i = M_i . X_i                       (eq. 1)
    e_{t,i} = sum_{j,k} [v * tanh(W_h * H_{t-1} + W_x * X~_i + b)]_{j,k},   w_{t,i} = softmax_i(e_{t,i})
    Y_t = sum_i w_{t,i} X~_i,   H_t, C_t = ConvLSTM(Y_t, H_{t-1}, C_{t-1})                             (eqs. 2-4)
    C_0 = g_c(m), H_0 = tanh(g_h(m)),   m = (1/n) sum_i X~_i                                              (eq. 5)
    logits = W pool((1/T) sum_t H_t) + b  [+ W_z sum_{i,k} a_{i,k} x_{i,k}  with ``deep_output``]         (eq. 6)
    a_{i,k} = w_i M_{i,k} / sum_{j,l} w_j M_{j,l},   w_i = (1/T) sum_t w_{t,i}

Loss (eq. 7): cross-entropy plus, per video (batch mean),

    tv       = lambda_tv       * sum_i TV-L1(M_i)                                                          (eq. 8)
    contrast = lambda_contrast * sum_i sum_{j,k} (-1/2 M_i B_i + 1/2 M_i (1 - B_i)),  B_i = 1[M_i > 0.5]   (eq. 9)
    unimodal = lambda_uni      * sum_t sum_{i=2}^{n-1} max(0, w_{t,i-1} w_{t,i+1} - w_{t,i}^2)             (eq. 10)

Departures from the paper, each measured on the embedded benchmark (docs/benchmark.md, docs/models.md): no 1/n in
eq. 4; the deep output read-out (Xu et al. 2015), without which the class diluted by the spatial mean pool is lost;
``energy="sum"`` over the K x K field instead of the mean; the mask starting mostly closed (``mask_bias=-2``);
optional separable ConvLSTM convolutions (``input_conv="separable"``, ``separable=True``). ``energy="mean",
deep_output=False, mask_bias=0`` is the paper's model. The attention logits are not detached.

Outputs: spatial = M (B, T, K, K); temporal = sum_k a_{i,k} (sums to 1); extras "step_attention" = w (B, T, T);
frame_logits = y_t = W pool(H_t) + b.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.losses import mask_contrast, total_variation_l1, unimodality
from wherewhen.models._convlstm import ConvLSTMCell, ConvStateInit
from wherewhen.models._reduce import ChannelReducer, as_cubes, as_rows
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model


def importance_mask_net(channels: int, mask_channels: int) -> nn.Sequential:
    """Three 3x3 convolutions: conv-BN-ReLU, conv-BN-ReLU, conv-sigmoid -> one channel in [0, 1]."""
    return nn.Sequential(
        nn.Conv2d(channels, mask_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(mask_channels),
        nn.ReLU(),
        nn.Conv2d(mask_channels, mask_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(mask_channels),
        nn.ReLU(),
        nn.Conv2d(mask_channels, 1, 3, padding=1),
        nn.Sigmoid(),
    )


@register_model("stam")
class SpatioTemporalAttention(VideoModel):
    # measured on the embedded benchmark: at 1e-3 the mask does not open before early stopping; mirrored and shifted
    # grids, chosen on two validation draws, point better; on its own the mask learns whatever separates the few
    # training clips, taught by the default model's run it learns the action's cells (two validation draws,
    # docs/models.md; ``train.attention_teacher=`` trains it alone, as the paper does)
    recommended_training: ClassVar[dict[str, Any]] = {
        "optim.lr": 3e-3,
        "augment.mirror": 0.5,
        "augment.shift": 1,
        "train.attention_teacher": "attention_pool",
    }

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_channels: int = 64,
        mask_channels: int = 32,
        attention_channels: int = 32,
        kernel_size: int = 3,
        input_conv: str = "full",
        peephole: bool = False,
        dropout: float = 0.5,
        lambda_tv: float = 1e-5,
        lambda_contrast: float = 1e-4,
        lambda_uni: float = 1.0,
        energy: str = "sum",
        deep_output: bool = True,
        mask_bias: float = -2.0,
        separable: bool = False,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if energy not in ("sum", "mean"):
            raise ConfigError(f"stam: energy must be 'sum' or 'mean', got {energy!r}")
        if input_conv not in ("full", "separable"):
            raise ConfigError(f"stam: input_conv must be 'full' or 'separable', got {input_conv!r}")
        if separable and input_conv != "full":
            raise ConfigError("stam: separable=True already makes the input convolution separable; drop input_conv")
        self.lambda_tv = lambda_tv
        self.lambda_contrast = lambda_contrast
        self.lambda_uni = lambda_uni
        self.energy = energy
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        feat = self.reduce.out_channels
        self.mask_net = importance_mask_net(feat, mask_channels)
        with torch.no_grad():
            self.mask_net[-2].bias.fill_(mask_bias)
        self.att_x = nn.Conv2d(feat, attention_channels, 1)
        self.att_h = nn.Conv2d(hidden_channels, attention_channels, 1, bias=False)
        self.att_v = nn.Conv2d(attention_channels, 1, 1, bias=False)  # a bias cancels in the softmax
        self.init_state = ConvStateInit(feat, hidden_channels, batch_norm=True)
        separable_input = input_conv == "separable"
        # separable input: W_x* * Y = W_1x1 (D * Y), a depthwise k x k convolution D, then the cell's 1x1 input kernel
        self.input_spatial = (
            nn.Conv2d(feat, feat, kernel_size, padding=kernel_size // 2, groups=feat, bias=False)
            if separable_input
            else None
        )
        self.cell = ConvLSTMCell(
            feat, hidden_channels, kernel_size, peephole, grid, 1 if separable_input else None, separable=separable
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self.context_out = nn.Linear(in_channels, num_classes, bias=False) if deep_output else None

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        rows = as_rows(cubes, self)  # (B, T, K, K, D)
        x = as_cubes(self.reduce(rows))
        mask = self.mask_net(x.flatten(0, 1)).unflatten(0, (b, t))  # (B, T, 1, K, K)
        masked = self.dropout(mask * x)
        keys = self.att_x(masked.flatten(0, 1)).unflatten(0, (b, t))  # phi_X(X~_i) for all frames
        state = self.init_state(masked.mean(dim=1))
        # Y_t = sum_i w_{t,i} X~_i enters the cell only as W_x* * Y_t = sum_i w_{t,i} (W_x* * X~_i): convolve each
        # frame once, then every step is a weighted sum of those gate maps, as rows (B, n, K K 4C_h).
        w_x, w_h = self.cell.split_weights()
        frames = masked.flatten(0, 1) if self.input_spatial is None else self.input_spatial(masked.flatten(0, 1))
        frame_gates = self.cell.input_gates(frames, w_x, bias=False)  # W_x* * X~_i
        frame_gates = frame_gates.permute(0, 2, 3, 1).reshape(b, t, -1)
        bias = self.cell.gates.bias.repeat(self.grid * self.grid)  # b at every cell, in the rows' (K, K, 4C_h) order
        # With z = phi_H(H_{t-1}) + phi_X(X~_i) and pool = mean (or sum) over the grid,
        #   e_{t,i} = pool sum_a v_a tanh(z)_a = sum_a v_a pool tanh(z)_a = sum_a 2 v_a pool sigmoid(2 z)_a - c,
        # as tanh(z) = 2 sigmoid(2 z) - 1; the constant c = pool(1) sum_a v_a is the same for every frame i, and the
        # softmax over i ignores it. Pooling before v saves a convolution; sigmoid is several times faster than tanh.
        keys2 = 2 * keys  # (B, n, A, K, K)
        v2 = 2 * self.att_v.weight.flatten()
        weights, hidden = [], []
        for _ in range(t):
            query = self.att_h(state[0]).unsqueeze(1)  # phi_H(H_{t-1}), broadcast over the frames
            field = torch.add(keys2, query, alpha=2).sigmoid_()  # sigmoid(2 z), (B, n, A, K, K)
            energy = (field.sum(dim=(3, 4)) if self.energy == "sum" else field.mean(dim=(3, 4))) @ v2
            w = energy.softmax(dim=1)  # (B, n frames)
            y_gates = torch.baddbmm(bias, w.unsqueeze(1), frame_gates).view(b, self.grid, self.grid, -1)
            state = self.cell.step(y_gates.permute(0, 3, 1, 2), state, w_h)  # (B, 4C_h, K, K)
            weights.append(w)
            hidden.append(state[0])
        step_attention = torch.stack(weights, dim=1)  # (B, T steps, n frames)
        frame_logits = self.classifier(self.dropout(torch.stack(hidden, dim=1).mean(dim=(3, 4))))
        spatial = mask.squeeze(2)
        # where and when the input comes from: frame i enters every step with weight w_{t,i}, cell k of it with M_ik
        looked = step_attention.mean(dim=1)[:, :, None, None] * spatial  # (B, T, K, K)
        looked = looked / looked.sum(dim=(1, 2, 3), keepdim=True).clamp_min(torch.finfo(looked.dtype).tiny)
        temporal = looked.sum(dim=(2, 3))
        logits = frame_logits.mean(dim=1)
        if self.context_out is not None:
            # sum over t, k, l of looked * x: one vector-matrix product per video on the rows
            context = torch.bmm(looked.flatten(1).unsqueeze(1), rows.flatten(1, 3)).squeeze(1)
            logits = logits + self.context_out(self.dropout(context))
        return ModelOutput(
            logits=logits,
            spatial=spatial,
            temporal=temporal,
            frame_logits=frame_logits,
            regularizers={
                "tv": self.lambda_tv * total_variation_l1(spatial),
                "contrast": self.lambda_contrast * mask_contrast(spatial),
                "unimodal": self.lambda_uni * unimodality(step_attention),
            },
            extras={"step_attention": step_attention},
        )
