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
first, under ``RUN/teacher``, as ``wherewhen train --model NAME`` would train it on the run's data with the run's seed
(``teacher_configs``). Where the store has flow and that model reads it by default, it trains once more on RGB alone,
under ``RUN/teacher-rgb``, and the one whose validation is better teaches (``chosen_teacher``; ties: the flow run):
flow carries the action in some stores and is no cue in others (docs/training.md). A teacher that reads optical flow
gets the flow cubes even where the student reads RGB only.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from wherewhen.errors import ConfigError
from wherewhen.models import available_models
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import with_flow_decided
from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.refine import PSEUDO_SHARE, at_share_of_peak, joint_weights

TEACHER_DIR = "teacher"  # RUN/teacher: the run of a teacher named by its model
RGB_TEACHER_DIR = "teacher-rgb"  # RUN/teacher-rgb: the same model on RGB alone, where the store also has flow


def trains_its_teacher(config: RunConfig) -> bool:
    """Whether ``train.attention_teacher`` names a model to train first (rather than a trained folder)."""
    return config.train.attention_teacher in available_models()


def teacher_folder(config: RunConfig, run_dir: Path) -> Path:
    """Where the teacher of a run in ``run_dir`` is: the chosen one of ``RUN/teacher`` and ``RUN/teacher-rgb`` for a
    named model, else the folder given."""
    if not trains_its_teacher(config):
        return Path(config.train.attention_teacher)
    return chosen_teacher([(run_dir / name, teacher) for name, teacher in teacher_configs(config)])


def teacher_configs(config: RunConfig) -> list[tuple[str, RunConfig]]:
    """The named teacher's runs, (folder name under RUN, config): ``wherewhen train --model NAME`` on the student's
    data section and seed (its model's own recommended training, none of the student's; flow where the store has it,
    as that command reads it), on the same device; and, where that run reads the store's flow by default, the same
    on RGB alone (``--set model.flow=false``)."""
    values: dict[str, object] = {
        "model.name": config.train.attention_teacher,
        "seed": config.seed,
        "train.device": config.train.device,
        "train.amp": config.train.amp,
        "train.progress": config.train.progress,
    }
    teacher = load_config(values=values)
    teacher.data = copy.deepcopy(config.data)
    runs = [(TEACHER_DIR, teacher.validate())]
    if follows_store_flow(teacher) and flow_in_store(config.data.store):
        rgb = copy.deepcopy(teacher)
        rgb.model.args["flow"] = False
        runs.append((RGB_TEACHER_DIR, rgb.validate()))
    return runs


def follows_store_flow(config: RunConfig) -> bool:
    """Whether the run's model reads flow where its store has it (a ``flow`` keyword left at None, which
    ``with_flow_decided`` decides by the store)."""
    return with_flow_decided(config.model.name, config.model.args, True) != config.model.args


def flow_in_store(store: str) -> bool:
    from wherewhen.features.store import FeatureStore

    return bool(store) and Path(store, "store.json").is_file() and FeatureStore(store).info.flow


def chosen_teacher(runs: list[tuple[Path, RunConfig]]) -> Path:
    """The run folder whose best validation (its monitor, as the best epoch is chosen) is the best; ties, runs without
    validation or not yet trained: the first."""
    from wherewhen.train.trials import best_so_far

    scored = []
    for position, (folder, teacher) in enumerate(runs):
        key = best_so_far(folder, teacher, teacher.train.epochs) if (folder / "metrics.csv").is_file() else None
        scored.append((key or [], -position, folder))
    return max(scored, key=lambda s: (s[0], s[1]))[2]


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
