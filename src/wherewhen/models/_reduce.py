"""The 1x1 convolution that shrinks D before the recurrent layers (keeps CPU training practical), and the channels-last
"rows" layout it works on."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ChannelReducer(nn.Module):
    """Per-cell ``ReLU(W x + b)``, D -> ``reduce_dim``, on rows (..., D) -> (..., reduce_dim); the identity when
    ``reduce_dim`` is None or 0.

    The weights are a 1x1 convolution's (saved models keep their keys), applied as one matrix product over every cell
    of every frame: on the stored (D, K, K) layout a 1x1 convolution is a small product per frame, and in training
    its weight gradient too (docs/speed.md). The ReLU keeps reduced features non-negative like the backbone's
    activations, so spatial weights and masks scale evidence up or down rather than flip its sign.
    """

    def __init__(self, in_channels: int, reduce_dim: int | None) -> None:
        super().__init__()
        if reduce_dim:
            self.proj: nn.Module = nn.Sequential(nn.Conv2d(in_channels, reduce_dim, kernel_size=1), nn.ReLU())
            self.out_channels = reduce_dim
        else:
            self.proj = nn.Identity()
            self.out_channels = in_channels

    def forward(self, rows: Tensor) -> Tensor:
        """(..., D) rows (see ``as_rows``) -> (..., out_channels)."""
        if isinstance(self.proj, nn.Identity):
            return rows
        conv = self.proj[0]
        return F.relu(F.linear(rows, conv.weight.flatten(1), conv.bias))


def model_dtype(module: nn.Module, default: torch.dtype) -> torch.dtype:
    param = next(module.parameters(), None)
    return default if param is None else param.dtype


def as_rows(cubes: Tensor, module: nn.Module) -> Tensor:
    """(B, T, D, K, K) cubes -> (B, T, K, K, D) rows in the model's dtype: the cast from the stored float16 and the
    transpose in one copy. Each cell's D features become one contiguous row, so the reduction and any read-out
    weighted over cells are single matrix products."""
    rows = cubes.permute(0, 1, 3, 4, 2)
    dtype = model_dtype(module, cubes.dtype)
    if rows.is_contiguous() and rows.dtype == dtype:  # cubes kept channels last, as the backbone makes them
        return rows
    # not .to(dtype, memory_format=...): with the dtype already right it returns the strided view, no copy
    return torch.empty(rows.shape, dtype=dtype, device=rows.device).copy_(rows)


def as_cubes(rows: Tensor) -> Tensor:
    """(B, T, K, K, C) rows -> contiguous (B, T, C, K, K) cubes, the layout of the convolutional heads."""
    return rows.permute(0, 1, 4, 2, 3).contiguous()
