"""The 1x1 convolution that shrinks D before the recurrent layers (keeps CPU training practical)."""

from __future__ import annotations

from torch import Tensor, nn


class ChannelReducer(nn.Module):
    """Per-frame ``ReLU(W x + b)`` with a 1x1 convolution D -> ``reduce_dim``; the identity when it is None or 0.

    The ReLU keeps reduced features non-negative like the backbone's activations, so spatial weights and masks
    scale evidence up or down rather than flip its sign.
    """

    def __init__(self, in_channels: int, reduce_dim: int | None) -> None:
        super().__init__()
        if reduce_dim:
            self.proj: nn.Module = nn.Sequential(nn.Conv2d(in_channels, reduce_dim, kernel_size=1), nn.ReLU())
            self.out_channels = reduce_dim
        else:
            self.proj = nn.Identity()
            self.out_channels = in_channels

    def forward(self, cubes: Tensor) -> Tensor:
        """(B, T, D, K, K) -> (B, T, out_channels, K, K)."""
        b, t = cubes.shape[:2]
        return self.proj(cubes.flatten(0, 1)).unflatten(0, (b, t))


def as_model_dtype(cubes: Tensor, module: nn.Module) -> Tensor:
    """Cast stored cubes (float16 on disk) to the dtype of the model's parameters."""
    param = next(module.parameters(), None)
    return cubes if param is None else cubes.to(param.dtype)
