"""Small pieces shared by the model heads: probability averaging over frames and softmax over the grid."""

from __future__ import annotations

import torch
from torch import Tensor


def log_weighted_probability(frame_logits: Tensor, weights: Tensor | None = None) -> Tensor:
    """log sum_t w_t softmax(y_t): the log of the frame-averaged class probabilities (LRCN), as video logits.

    frame_logits (B, T, C); weights (B, T) summing to 1 over T, or None for the plain mean 1/T. Frames with
    weight exactly 0 (hard attention) contribute nothing.
    """
    log_p = frame_logits.log_softmax(dim=-1)
    if weights is None:
        t = frame_logits.shape[1]
        return torch.logsumexp(log_p, dim=1) - torch.log(frame_logits.new_tensor(float(t)))
    tiny = torch.finfo(weights.dtype).tiny
    log_w = torch.where(weights > 0, torch.log(weights.clamp_min(tiny)), weights.new_tensor(float("-inf")))
    return torch.logsumexp(log_p + log_w.unsqueeze(-1), dim=1)


def grid_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last two (K, K) dimensions."""
    return scores.flatten(-2).softmax(dim=-1).view_as(scores)
