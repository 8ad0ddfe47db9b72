"""Attention regularizers shared by models. Each returns an unweighted scalar, averaged over the batch.

Normalization: every term is computed *per video* exactly as its paper writes it (sums over frames, cells and
steps, no division by their number) and then averaged over the videos of the batch. Models multiply by their
lambda and put the result in ``ModelOutput.regularizers`` under the names used here.

- ``doubly_stochastic`` (Xu et al. 2015; Sharma et al. 2015):  sum_i (1 - sum_t alpha_{t,i})^2
- ``total_variation_l1`` ("Where and When to Look", eq. 8):
  sum_t sum_{j,k} |M_{j+1,k} - M_{j,k}| + |M_{j,k+1} - M_{j,k}|
- ``mask_contrast`` (eq. 9):  sum_t sum_{j,k} (-1/2 M B + 1/2 M (1 - B)),  B = 1[M > 0.5] (a constant)
- ``unimodality`` (eq. 10):  sum_t sum_{i=2}^{n-1} max(0, w_{t,i-1} w_{t,i+1} - w_{t,i}^2)   (no square root)
"""

from __future__ import annotations

from torch import Tensor


def doubly_stochastic(alpha: Tensor) -> Tensor:
    """Penalty pushing every location to receive a total attention of about 1 over the clip.

    alpha: (B, T, L) or (B, T, K, K) spatial softmax weights (each frame sums to 1 over its L = K*K cells).
    Returns mean_b sum_i (1 - sum_t alpha_{b,t,i})^2. With uniform attention (alpha = 1/L) this is (L - T)^2 / L
    per video, e.g. 7.367 for L = 49, T = 30; when T < L uniform attention is its minimum.
    """
    per_location = alpha.flatten(2).sum(dim=1)  # (B, L)
    return (1.0 - per_location).pow(2).sum(dim=1).mean()


def total_variation_l1(mask: Tensor) -> Tensor:
    """Anisotropic L1 total variation of per-frame masks, summed over frames, averaged over the batch.

    mask: (B, T, K, K). Returns mean_b sum_t (sum |vertical differences| + sum |horizontal differences|).
    """
    vertical = (mask[..., 1:, :] - mask[..., :-1, :]).abs().sum(dim=(-2, -1))
    horizontal = (mask[..., :, 1:] - mask[..., :, :-1]).abs().sum(dim=(-2, -1))
    return (vertical + horizontal).sum(dim=1).mean()


def mask_contrast(mask: Tensor) -> Tensor:
    """Contrast between a mask's kept and dropped cells: rewards high values where M > 0.5, low values elsewhere.

    mask: (B, T, K, K) in [0, 1]. With B = 1[M > 0.5] treated as a constant, returns
    mean_b sum_t sum_{j,k} (-1/2 M B + 1/2 M (1 - B)); it lies in [-K*K*T/2, K*K*T/4] per video.
    """
    binary = (mask > 0.5).to(mask.dtype)
    per_cell = -0.5 * mask * binary + 0.5 * mask * (1.0 - binary)
    return per_cell.flatten(1).sum(dim=1).mean()


def unimodality(weights: Tensor) -> Tensor:
    """Log-concavity hinge that favours temporal attention with one peak.

    weights: (B, S, n) attention over n frames at each of S steps, or (B, n) for a single distribution.
    Returns mean_b sum_s sum_{i=2}^{n-1} max(0, w_{i-1} w_{i+1} - w_i^2). A log-concave sequence is unimodal, so
    a zero penalty means every step's weights have a single mode. No square root is taken (the paper has none).
    """
    if weights.dim() == 2:
        weights = weights.unsqueeze(1)
    hinge = (weights[..., :-2] * weights[..., 2:] - weights[..., 1:-1].pow(2)).clamp(min=0.0)
    return hinge.flatten(1).sum(dim=1).mean()
