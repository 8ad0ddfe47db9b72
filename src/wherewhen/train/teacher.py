"""Attention taught by a trained model (``train.attention_teacher``): a model whose spatial attention is a gate per
cell in [0, 1] (``stam``'s mask M) learns, beside its own loss, the cells a trained model weighs most on the same
augmented clip, as the pseudo-label refinement reads them (``train.refine``):

    a_{t,i} = temporal_t * spatial_{t,i}                      (the teacher's weight of each cell, no gradient)
    y_{t,i} = [a_{t,i} >= 0.85 max_{t',j} a_{t',j}]           (its pseudo positives, PSEUDO_SHARE of the clip's peak)
    L_teacher = lambda / (B T L) sum_{b,t,i} w_{b,t,i} BCE(M_{b,t,i}, y_{b,t,i}),
    w = 1 / (2 pi) on the positives and 1 / (2 (1 - pi)) on the other cells, pi the batch's share of positives

The teacher learned from the same class labels (the default model, refined), so the student is still weakly
supervised; what it gets is a mask that starts from where a simpler model found the action instead of from whatever
separates the few training clips (docs/models.md).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from wherewhen.errors import ConfigError
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.train.refine import PSEUDO_SHARE, at_share_of_peak, joint_weights


def load_teacher(path: str | Path, student: VideoModel) -> VideoModel:
    """The trained model in ``path`` (a run folder or its model/ folder), frozen, checked against ``student``."""
    from wherewhen.models.pretrained import from_pretrained

    folder = Path(path)
    if (folder / "model").is_dir():
        folder = folder / "model"
    if not folder.is_dir():
        raise ConfigError(f"train.attention_teacher: {path} is not a run or model folder; train the teacher first")
    with torch.random.fork_rng(devices=[]):  # building draws initial weights; leave the run's RNG alone
        teacher = from_pretrained(folder).model.eval().requires_grad_(False)
    if (teacher.in_channels, teacher.grid) != (student.in_channels, student.grid):
        raise ConfigError(
            f"train.attention_teacher: {path} reads {teacher.in_channels} channels on a {teacher.grid} x {teacher.grid}"
            f" grid, the run's features have {student.in_channels} on {student.grid} x {student.grid};"
            " train the teacher on this run's feature store"
        )
    return teacher


@torch.no_grad()
def teacher_positives(teacher: VideoModel, cubes: Tensor, flow: Tensor | None = None) -> Tensor:
    """(B, T, K, K) float: y, the cells holding at least PSEUDO_SHARE of the clip's largest teacher weight."""
    output = teacher(cubes, flow if teacher.uses_flow else None)
    return at_share_of_peak(joint_weights(output).float(), PSEUDO_SHARE).view_as(output.spatial).float()


def teacher_loss(output: ModelOutput, positives: Tensor, weight: float) -> Tensor:
    """L_teacher: the class-balanced binary cross-entropy of the student's gates against the teacher's positives."""
    share = positives.mean().clamp(1e-4, 1 - 1e-4)
    balance = torch.where(positives > 0, 0.5 / share, 0.5 / (1 - share))
    gates = output.spatial.float().clamp(1e-6, 1 - 1e-6)
    return weight * F.binary_cross_entropy(gates, positives, weight=balance)
