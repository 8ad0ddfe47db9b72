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

``train.attention_teacher`` names a folder (a trained run or model) or a registered model: that model is trained
first, under ``RUN/teacher``, as ``wherewhen train --model NAME --set model.flow=false`` would train it on the run's
data with the run's seed (``teacher_config``): on RGB, as every student it teaches reads RGB, so the cells it marks are
cells the student can tell from its own input. A teacher folder that reads optical flow gets the flow cubes even
where the student reads RGB only.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from wherewhen.errors import ConfigError
from wherewhen.models import available_models
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import model_class
from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.refine import PSEUDO_SHARE, at_share_of_peak, joint_weights

TEACHER_DIR = "teacher"  # RUN/teacher: the run of a teacher named by its model


def trains_its_teacher(config: RunConfig) -> bool:
    """Whether ``train.attention_teacher`` names a model to train first (rather than a trained folder)."""
    return config.train.attention_teacher in available_models()


def teacher_folder(config: RunConfig, run_dir: Path) -> Path:
    """Where the teacher of a run in ``run_dir`` is: ``RUN/teacher`` for a named model, else the folder given."""
    return run_dir / TEACHER_DIR if trains_its_teacher(config) else Path(config.train.attention_teacher)


def teacher_config(config: RunConfig) -> RunConfig:
    """The named teacher's run: ``wherewhen train --model NAME`` on the student's data section and seed (its model's
    own recommended training, none of the student's), on RGB where the model can read flow (``model.flow=false``:
    the students read RGB; on a store whose flow is no cue a flow teacher marks nothing useful, docs/training.md), on
    the same device."""
    values: dict[str, object] = {
        "model.name": config.train.attention_teacher,
        "seed": config.seed,
        "train.device": config.train.device,
        "train.amp": config.train.amp,
        "train.progress": config.train.progress,
    }
    if "flow" in inspect.signature(model_class(config.train.attention_teacher)).parameters:
        values["model.flow"] = False
    teacher = load_config(values=values)
    teacher.data = copy.deepcopy(config.data)
    return teacher.validate()


def load_teacher(path: str | Path, student: VideoModel, store_has_flow: bool) -> VideoModel:
    """The trained model in ``path`` (a run folder or its model/ folder), frozen, checked against ``student`` and the
    run's store (a teacher that reads flow needs a store with flow cubes; the run loads them for it)."""
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
    if teacher.uses_flow and not store_has_flow:
        raise ConfigError(
            f"train.attention_teacher: {path} reads optical flow, the run's store has none;"
            " extract it with --flow or train the teacher on RGB (--set model.flow=false)"
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
