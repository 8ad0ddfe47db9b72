"""L2-regularised logistic regression by L-BFGS: the closed-form fits of the pseudo-label refinement
(``train.refine``) and of the benchmark's supervised-attention ceiling."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Linear:
    """``x @ weight.T + bias`` on raw (unstandardised) features."""

    weight: Tensor  # (outputs, D)
    bias: Tensor  # (outputs,)

    def __call__(self, x: Tensor) -> Tensor:
        return x @ self.weight.T + self.bias


def fit_logistic(x: Tensor, targets: Tensor, l2: float) -> Linear:
    """L2-regularised logistic regression by L-BFGS on standardised features, returned on the raw features.

    ``targets`` long (N,): multinomial over ``targets.max() + 1`` classes; float (N,) in {0, 1}: binary (one output,
    the positives weighted up to balance the negatives). Loss: mean cross-entropy + l2 * ||W_standardised||^2.
    """
    x = x.float()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    xs = (x - mean) / std
    binary = targets.is_floating_point()
    linear = nn.Linear(x.shape[1], 1 if binary else int(targets.max()) + 1)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    balance = ((1 - targets).sum() / targets.sum().clamp_min(1)) if binary else None
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        out = linear(xs)
        if binary:
            loss = nn.functional.binary_cross_entropy_with_logits(out[:, 0], targets, pos_weight=balance)
        else:
            loss = nn.functional.cross_entropy(out, targets)
        loss = loss + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    weight = linear.weight.detach() / std
    return Linear(weight, linear.bias.detach() - weight @ mean)


def validation_score(classifier: Linear, features: Tensor, labels: Tensor) -> tuple[float, float]:
    """(accuracy, -cross-entropy): larger is better in both, compared in that order."""
    logits = classifier(features)
    accuracy = float((logits.argmax(dim=1) == labels).float().mean())
    return accuracy, -float(nn.functional.cross_entropy(logits, labels))
