"""Small random cubes and their cells, for checking a model's forward against its equations written out cell by
cell (tests/test_models_wsal.py, tests/test_models_attention_pool.py)."""

from __future__ import annotations

import torch

B, T, D, K, C = 2, 3, 6, 2, 3


def cubes(seed: int = 0) -> torch.Tensor:
    return torch.rand(B, T, D, K, K, generator=torch.Generator().manual_seed(seed))


def cells(x: torch.Tensor) -> list[list[torch.Tensor]]:
    """x (T, D, K, K) -> per frame, the list of its cells' D-vectors in row-major order."""
    return [[x[t, :, r, c] for r in range(K) for c in range(K)] for t in range(x.shape[0])]
