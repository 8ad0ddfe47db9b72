"""Pseudo-label refinement: a trained ``attention_pool``'s own attention, re-learned as a linear cell detector
(in the manner of PSOL, Zhang et al. 2020, "Rethinking the Route Towards Weakly Supervised Object Localization").

After training, the model marks its pseudo positives on every training clip, the cells that hold at least 0.85 of
the clip's largest attention weight. A linear detector learns them against every other cell of every training clip,
its scores become the new attention (a softmax within each frame, a sigmoid gate per frame on its best cell), and a
linear classifier reads the attended feature (with flow, also the attended frames' motion bands, as
``attention_pool`` reads them):

    a_{t,i}  = temporal_t * spatial_{t,i}                       (the trained model's weight of each cell)
    y_{t,i}  = [a_{t,i} >= 0.85 max_{t',j} a_{t',j}]            (pseudo labels)
    kept     = the clips whose best cell, to a detector fitted on the other half of the clips, holds at least 0.5
               of the clip's peak a (the cross-check; only the kept clips' cells train the detector)
    s_{t,i}  = w^T x_{t,i} + b                                  (binary logistic regression on y, L2 strength l_d;
                                                                 b moved to the share pi of the cells holding at
                                                                 least 0.5 of their clip's peak (GATE_SHARE):
                                                                 b = b_balanced + log(pi / (1 - pi)))
    a'_{t,i} = softmax_i(s_{t,i}) * g_t / sum_t' g_t',   g_t = sigmoid(max_i s_{t,i})
                                                                (attention_pool's timing="frame_gate")
    logits   = W_c z' [+ W_m sum_t tau'_t m_t] + b_c,   z' = sum_{t,i} a'_{t,i} x_{t,i},   tau'_t = sum_i a'_{t,i}
                                                                (multinomial logistic regression, L2 strength l_c)

The trained scorer has only to separate a few training clips through one softmax per clip, and it fits whatever cells do
that; the detector has to tell the cells the scorer trusted from all the others of every clip at once, which the cue
does and the clip-specific cells do not. Where the trained model trusted a distractor, a detector fitted on the other
clips looks elsewhere, and that clip's pseudo labels are left out. The detector is fitted with the positives weighted up
to balance the negatives, so its raw log-odds would call about half of the cells positive; moved to the real share of
the cells the trained model weighs at half its peak or more, g_t is its probability that frame t holds a cell like the
ones the trained model trusted, and the attention keeps every frame where the cue shows (one softmax over all cells
instead gave nearly all the weight to the one or two best frames: segments too short, docs/models.md). Both are
L2-regularised logistic regressions on standardised features (``train.logistic``); (l_d, l_c) is the pair that, fitted
on the training clips, reaches the best validation accuracy (ties: the lower validation loss), or the middle of each
grid without a validation split; then both are fitted again on the training and validation clips together (the
validation split chose the training epoch and these strengths; with ~30 validation clips beside ~110 training ones, the
fit gains more from them than a second look at the validation accuracy would tell). The result is an ``attention_pool``
with ``scorer="linear"`` and ``timing="frame_gate"``: the attention it shows is the one it classifies with. With
``DETECTOR_CONTEXT`` (off: docs/models.md) the detector reads each cell beside the mean of its 3 x 3 neighbourhood,
s_{t,i} = w^T [x_{t,i} ; n_{t,i}] + b, and the refined model's scorer is ``"linear_context"``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from wherewhen.errors import ConfigError
from wherewhen.models._reduce import as_rows
from wherewhen.models.attention_pool import cell_attention, with_neighbourhood
from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import build_model
from wherewhen.train.logistic import Linear, fit_logistic, validation_score

# A pseudo positive holds at least this share of its clip's largest weight: only the cells the trained model trusts
# most, so the detector learns the actor rather than its surroundings (chosen on validation, docs/models.md)
PSEUDO_SHARE = 0.85
# The detector's bias is moved to the share of all cells that hold at least this share of their clip's largest
# weight (None: the pseudo positives' share): below PSEUDO_SHARE, more frames of a long action pass the gate
# (chosen on validation, docs/models.md)
GATE_SHARE: float | None = 0.5
DETECTOR_L2 = (0.01, 0.03, 0.1, 0.3)
CLASSIFIER_L2 = (1e-3, 1e-2, 1e-1)
MAX_DETECTOR_CELLS = 200_000  # every pseudo positive, then negatives drawn at random up to this many cells
# Fewer training videos in some class and the run keeps its trained model: two logistic regressions over thousands
# of features need the clips (docs/models.md: 22 per class helped on every validation run, 3 per class on the real
# ud810 clips lost most of the accuracy; 15 lies between the two, not finer)
MIN_VIDEOS_PER_CLASS = 15
# A clip's pseudo labels train the detector only where a detector fitted on the other half of the clips agrees: its
# best cell is one the trained model weighs at GATE_SHARE of its peak (chosen on validation, docs/models.md)
CROSS_CHECK = True
REFINED_TIMING = "frame_gate"  # chosen on validation (docs/models.md): one softmax over all cells kept too few frames
# The detector reads each cell beside the mean of its 3 x 3 neighbourhood (scorer "linear_context"): it pointed and
# boxed better on both validation draws, at about one video less top-1 per run; off until the larger benchmarks'
# validation and the reported figures are measured with it (docs/models.md)
DETECTOR_CONTEXT = False


@dataclass
class Clips:
    """Clips as the refinement reads them: every cell's feature, the frames' motion bands, the labels."""

    cells: Tensor  # (N, T L, C) float16: x_{t,i}, RGB and flow side by side when the model reads flow
    motion: Tensor | None  # (N, T, S D) float16: m_t, when the model reads the motion bands
    labels: Tensor  # (N,)
    frames: int  # T
    detect: Tensor | None = None  # (N, T L, 2C) float16: what the detector reads with DETECTOR_CONTEXT, else cells

    @property
    def detector_rows(self) -> Tensor:
        """(N, T L, C or 2C): the rows the detector scores."""
        return self.cells if self.detect is None else self.detect


@dataclass
class PseudoLabels:
    """Per training clip, the cells the detector learns as positives (y_{t,i}) and the cells whose share of all
    cells (pi) its bias is moved to: those at GATE_SHARE of the clip's peak, the positives when it is None."""

    positives: Tensor  # (N, T L) bool
    gate: Tensor  # (N, T L) bool

    def __add__(self, other: PseudoLabels) -> PseudoLabels:
        return PseudoLabels(torch.cat([self.positives, other.positives]), torch.cat([self.gate, other.gate]))


@dataclass
class Refinement:
    model: VideoModel  # the refined attention_pool (scorer="linear"), in eval mode
    choices: dict[str, Any]  # the strengths chosen and the validation accuracy before and after


def read_clips(model: VideoModel, batches: Sequence[dict[str, Tensor]]) -> Clips:
    """The clips of ``batches`` (collated ``ClipDataset`` items) in the layout ``model`` reads."""
    cells, motion, labels = [], [], []
    for batch in batches:
        x = as_rows(batch["rgb"], model).flatten(2, 3)  # (B, T, L, D)
        if model.uses_flow:
            flow_rows = as_rows(batch["flow"], model)
            x = torch.cat([x, flow_rows.flatten(2, 3)], dim=-1)
            if getattr(model, "motion_out", None) is not None:
                motion.append(model.column_bands(flow_rows).half())
        cells.append(x.flatten(1, 2).half())
        labels.append(batch["label"])
    frames = batches[0]["rgb"].shape[1] if batches else 0
    rows = torch.cat(cells)
    detect = torch.stack([with_neighbourhood(c.float(), model.grid).half() for c in rows]) if DETECTOR_CONTEXT else None
    return Clips(rows, torch.cat(motion) if motion else None, torch.cat(labels), frames, detect)


@torch.no_grad()
def cell_weights(model: VideoModel, batches: Sequence[dict[str, Tensor]]) -> Tensor:
    """(N, T L): a_{t,i}, the trained model's weight of every cell of every clip."""
    model.eval()
    out = []
    for batch in batches:
        output = model(batch["rgb"], batch.get("flow"))
        out.append(joint_weights(output))
    return torch.cat(out)


def joint_weights(output: ModelOutput) -> Tensor:
    """(B, T L): a_{t,i} = temporal_t * spatial_{t,i}, a model output's weight of every cell of each clip."""
    return (output.temporal[:, :, None, None] * output.spatial).flatten(1)


def at_share_of_peak(weights: Tensor, share: float) -> Tensor:
    """(N, T L) bool: the cells holding at least ``share`` of their clip's largest weight."""
    return weights >= share * weights.amax(dim=1, keepdim=True)


def pseudo_labels(model: VideoModel, batches: Sequence[dict[str, Tensor]]) -> PseudoLabels:
    """y_{t,i}, the cells holding at least PSEUDO_SHARE of their clip's largest weight, and the gate's cells."""
    weights = cell_weights(model, batches)
    positives = at_share_of_peak(weights, PSEUDO_SHARE)
    return PseudoLabels(positives, positives if GATE_SHARE is None else at_share_of_peak(weights, GATE_SHARE))


def detector_cells(clips: Clips, positives: Tensor, seed: int) -> tuple[Tensor, Tensor]:
    """Every positive cell and random negatives, at most MAX_DETECTOR_CELLS: (x (M, C) float32, y (M,) float)."""
    generator = torch.Generator().manual_seed(seed)
    total, count = positives.numel(), int(positives.sum())
    keep_negative = min(1.0, (MAX_DETECTOR_CELLS - count) / max(total - count, 1))
    keep = positives | (torch.rand(positives.shape, generator=generator) < keep_negative)
    return clips.detector_rows[keep].float(), positives[keep].float()


def calibrated(detector: Linear, marked: Tensor) -> Linear:
    """The detector with its bias moved from balanced classes to the share of all cells that ``marked`` marks."""
    share = min(max(float(marked.float().mean()), 1e-6), 1 - 1e-6)  # a flat trained attention marks every cell
    return Linear(detector.weight, detector.bias + math.log(share / (1 - share)))


def subset(clips: Clips, chosen: Tensor) -> Clips:
    motion = None if clips.motion is None else clips.motion[chosen]
    detect = None if clips.detect is None else clips.detect[chosen]
    return Clips(clips.cells[chosen], motion, clips.labels[chosen], clips.frames, detect)


def confirmed(clips: Clips, labels: PseudoLabels, l2: float, seed: int) -> Tensor:
    """(N,) bool: the clips whose best cell, to a detector fitted on the other half of the clips, is one of their
    gate cells (those the trained model weighs at GATE_SHARE of its peak or more)."""
    n = len(clips.labels)
    out = torch.ones(n, dtype=torch.bool)
    if n < 2:
        return out
    for half in torch.randperm(n, generator=torch.Generator().manual_seed(seed)).chunk(2):
        others = torch.ones(n, dtype=torch.bool)
        others[half] = False
        detector = fit_logistic(*detector_cells(subset(clips, others), labels.positives[others], seed), l2)
        best = torch.stack([detector(clips.detector_rows[i].float())[:, 0].argmax() for i in half.tolist()])
        out[half] = labels.gate[half, best]
    return out


def kept_clips(clips: Clips, labels: PseudoLabels, l2: float, seed: int) -> Tensor:
    """(N,) bool: the clips whose pseudo labels the detector learns: the ``confirmed`` ones, every clip without
    CROSS_CHECK."""
    return confirmed(clips, labels, l2, seed) if CROSS_CHECK else torch.ones(len(clips.labels), dtype=torch.bool)


def fit_detector(clips: Clips, labels: PseudoLabels, l2: float, seed: int, kept: Tensor | None = None) -> Linear:
    """The detector fitted on the pseudo labels of the ``kept`` clips (by default ``kept_clips``), its bias
    calibrated to the gate cells' share of all clips."""
    if kept is None:
        kept = kept_clips(clips, labels, l2, seed)
    fit = fit_logistic(*detector_cells(subset(clips, kept), labels.positives[kept], seed), l2)
    return calibrated(fit, labels.gate)


def attended(clips: Clips, detector: Linear) -> Tensor:
    """(N, C [+ S D]): z' = sum a' x, with sum_t tau'_t m_t beside it when the clips carry motion bands."""
    out = []
    for i in range(len(clips.labels)):
        x = clips.cells[i].float()
        scores = detector(clips.detector_rows[i].float())[:, 0]
        a = cell_attention(scores.view(1, clips.frames, -1), REFINED_TIMING)[0].flatten()
        features = [a @ x]
        if clips.motion is not None:
            tau = a.view(clips.frames, -1).sum(dim=1)
            features.append(tau @ clips.motion[i].float())
        out.append(torch.cat(features))
    return torch.stack(out)


def joined(a: Clips, b: Clips) -> Clips:
    motion = None if a.motion is None or b.motion is None else torch.cat([a.motion, b.motion])
    detect = None if a.detect is None or b.detect is None else torch.cat([a.detect, b.detect])
    return Clips(torch.cat([a.cells, b.cells]), motion, torch.cat([a.labels, b.labels]), a.frames, detect)


def choose_strengths(train: Clips, labels: PseudoLabels, val: Clips, seed: int) -> tuple[float, float, float]:
    """(l_d, l_c, validation accuracy): the pair fitted on ``train`` that scores best on ``val``."""
    best: tuple[tuple[float, float], float, float] | None = None
    for l_d in DETECTOR_L2:
        detector = fit_detector(train, labels, l_d, seed)
        train_features, val_features = attended(train, detector), attended(val, detector)
        for l_c in CLASSIFIER_L2:
            score = validation_score(fit_logistic(train_features, train.labels, l_c), val_features, val.labels)
            if best is None or score > best[0]:
                best = (score, l_d, l_c)
    assert best is not None
    return best[1], best[2], best[0][0]


def refined_model(model: VideoModel, detector: Linear, classifier: Linear) -> VideoModel:
    """``model`` rebuilt with the linear scorer (w, b) = the detector's and the classifier's read-out."""
    scorer = "linear_context" if DETECTOR_CONTEXT else "linear"
    kwargs = model.build_kwargs | {"scorer": scorer, "timing": REFINED_TIMING, "normalize": False}
    with torch.random.fork_rng(devices=[]):  # building draws initial weights; leave the run's RNG alone
        refined = build_model(
            model.name, num_classes=model.num_classes, in_channels=model.in_channels, grid=model.grid, **kwargs
        )
    channels = refined.classifier.in_features
    with torch.no_grad():
        refined.att_w.weight.copy_(detector.weight)
        refined.att_w.bias.copy_(detector.bias)
        refined.classifier.weight.copy_(classifier.weight[:, :channels])
        refined.classifier.bias.copy_(classifier.bias)
        if refined.motion_out is not None:
            refined.motion_out.weight.copy_(classifier.weight[:, channels:])
    return refined.eval()


def too_few_videos(labels: Sequence[int], num_classes: int) -> str | None:
    """Why a training split is too small to refine on (``MIN_VIDEOS_PER_CLASS``), or None."""
    fewest = min(Counter(labels).get(c, 0) for c in range(num_classes))
    if fewest < MIN_VIDEOS_PER_CLASS:
        return f"{fewest} training videos in a class, fewer than {MIN_VIDEOS_PER_CLASS}"
    return None


def refine(
    model: VideoModel, train: Sequence[dict[str, Tensor]], val: Sequence[dict[str, Tensor]], seed: int = 0
) -> Refinement:
    """Refine a trained ``attention_pool`` from collated batches of its training and validation clips."""
    if model.name != "attention_pool":
        raise ConfigError(f"train.refine re-fits attention_pool's attention; model {model.name!r} has no such scorer")
    if not train:
        raise ConfigError("train.refine needs training clips")
    train_clips, labels = read_clips(model, train), pseudo_labels(model, train)
    clips = train_clips
    choices: dict[str, Any] = {}
    if val:
        val_clips = read_clips(model, val)
        l_d, l_c, accuracy = choose_strengths(train_clips, labels, val_clips, seed)
        choices |= {"val_accuracy_before": clip_accuracy(model, val), "val_accuracy": accuracy}
        # the strengths chosen, the final fits see the validation clips too
        clips, labels = joined(train_clips, val_clips), labels + pseudo_labels(model, val)
    else:
        l_d, l_c = DETECTOR_L2[len(DETECTOR_L2) // 2], CLASSIFIER_L2[len(CLASSIFIER_L2) // 2]
    kept = kept_clips(clips, labels, l_d, seed)
    detector = fit_detector(clips, labels, l_d, seed, kept)
    classifier = fit_logistic(attended(clips, detector), clips.labels, l_c)
    choices |= {
        "detector_l2": l_d,
        "classifier_l2": l_c,
        "pseudo_positives_per_clip": float(labels.positives.sum(dim=1).float().mean()),
        "clips_left_out": int((~kept).sum()),
    }
    if GATE_SHARE is not None:
        choices["gate_cells_per_clip"] = float(labels.gate.sum(dim=1).float().mean())
    return Refinement(refined_model(model, detector, classifier), choices)


@torch.no_grad()
def clip_accuracy(model: VideoModel, batches: Sequence[dict[str, Tensor]]) -> float:
    model.eval()
    right = sum(int((model(b["rgb"], b.get("flow")).logits.argmax(1) == b["label"]).sum()) for b in batches)
    return right / sum(len(b["label"]) for b in batches)
