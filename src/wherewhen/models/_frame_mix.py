"""Y_t = b + w_t F for the steps t of a recurrence over fixed per-frame rows F, with F's gradient taken once.

Autograd would accumulate dL/dF = sum_t w_t^T dY_t one step at a time: an outer product of F's size per step, added
into a buffer of F's size (for `stam` in training, 16 read-modify-writes of 12.8 MB, ~8 % of a step). Here each step's
backward keeps (w_t, dY_t) and F's gradient is one batched product after the last of them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class FrameMixer:
    """``mix(w)`` = ``bias + w @ frames`` for (B, 1, n) weights over (B, n, G) rows; one mixer per forward."""

    def __init__(self, frames: Tensor, bias: Tensor) -> None:
        self.record: list[tuple[Tensor, Tensor]] = []
        self.bias = bias
        self.tracks = torch.is_grad_enabled() and frames.requires_grad
        self.frames = _Collect.apply(frames, self.record) if self.tracks else frames

    def mix(self, w: Tensor) -> Tensor:
        if not self.tracks:
            return torch.baddbmm(self.bias, w, self.frames)
        return _Mix.apply(self.bias, w, self.frames, self.record)


class _Collect(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, frames: Tensor, record: list[tuple[Tensor, Tensor]]) -> Tensor:
        ctx.record = record
        ctx.set_materialize_grads(False)
        return frames.view_as(frames)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor | None) -> tuple[Tensor | None, None]:
        record = ctx.record
        if not record:
            return grad, None
        weights = torch.cat([w for w, _ in record], dim=1)  # (B, steps, n)
        grads = torch.cat([g for _, g in record], dim=1)  # (B, steps, G)
        record.clear()  # a second backward through the same graph starts over
        total = torch.bmm(weights.transpose(1, 2), grads)
        return (total if grad is None else grad + total), None


class _Mix(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, bias: Tensor, w: Tensor, frames: Tensor, record: list[tuple[Tensor, Tensor]]) -> Tensor:
        ctx.save_for_backward(w, frames)
        ctx.record = record
        return torch.baddbmm(bias, w, frames)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        w, frames = ctx.saved_tensors
        if ctx.needs_input_grad[2]:
            ctx.record.append((w, grad))
        grad_w = torch.bmm(grad, frames.transpose(1, 2)) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(dim=(0, 1)) if ctx.needs_input_grad[0] else None
        return grad_bias, grad_w, None, None
