"""The yardstick beside every model: what a linear read-out of the same cubes reaches with supervised attention
(the ceiling), with the ground truth's own where and when (oracle pooling) and with no attention (average pooling,
the floor), fitted on the train split of the same store and scored on its test split.

    python -m benchmarks.yardstick [--store STORE]

Ceiling: a linear cell detector, fitted on the train split's cells (positive: the cell's centre lies in the row's
ground-truth box, ``evaluate.truth.box_cells``), scores every cell; one softmax over the T x K x K cells of a clip
weights them; a linear classifier reads the attended D-dim backbone feature:

    s_{t,i} = w^T x_{t,i} + b,    a = softmax_{t,i}(s),    z = sum_{t,i} a_{t,i} x_{t,i},    logits = W z + c

Oracle pooling: z = the box-overlap-weighted mean of the cells of the segment's rows (``box_overlap``,
``segment_rows``). Average pooling: z = the mean of every cell of every row. All three classifiers and the
detector are L2-regularised logistic regressions on standardised features (L-BFGS); the strengths are picked on
a validation split carved from the train split as ``wherewhen train`` carves it, then everything is refitted on
the whole train split. The ceiling and the floor are scored by ``evaluate_model`` with the same settings as the
trained models (top-1, pointing game, frame-mAP, temporal mAP); the oracle has no attention of its own to score.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wherewhen.train.logistic import Linear, fit_logistic, validation_score

DETECTOR_L2 = (0.01, 0.03, 0.1, 0.3)
CLASSIFIER_L2 = (1e-3, 1e-2, 1e-1)
MAX_DETECTOR_CELLS = 200_000  # every positive cell, then negatives drawn at random up to this many rows


def cells(cube: Tensor) -> Tensor:
    """(T, D, K, K) -> (T K K, D) float32 rows, row-major over (t, r, c)."""
    return cube.float().permute(0, 2, 3, 1).reshape(-1, cube.shape[1])


class AttentionReadout(nn.Module):
    """Cubes -> ModelOutput: a softmax over every cell of a clip by a linear detector (uniform without one), and a
    linear classifier on the attended feature; the ceiling and the floor as models, so the toolkit's evaluation
    scores them exactly as it scores a trained model."""

    uses_flow = False

    def __init__(self, detector: Linear | None, classifier: Linear) -> None:
        super().__init__()
        self.detector = detector
        self.classifier = classifier

    def attention(self, x: Tensor) -> Tensor:
        """(B, N) weights over the N = T K K cells of each clip."""
        if self.detector is None:
            return torch.full(x.shape[:2], 1.0 / x.shape[1])
        return self.detector(x)[..., 0].softmax(dim=1)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> Any:
        from wherewhen.models.output import ModelOutput

        b, t, d, k, _ = cubes.shape
        x = cubes.float().permute(0, 1, 3, 4, 2).reshape(b, t * k * k, d)
        a = self.attention(x)
        logits = self.classifier(torch.einsum("bn,bnd->bd", a, x))
        per_frame = a.view(b, t, k, k)
        temporal = per_frame.sum(dim=(2, 3))
        spatial = per_frame / temporal.clamp_min(1e-30)[:, :, None, None]
        return ModelOutput(logits=logits, spatial=spatial, temporal=temporal)


@dataclass
class Videos:
    """The cubes of some records in memory (float16) with their labels and ground truth on the grid."""

    cubes: list[Tensor]  # (T, D, K, K) each
    labels: Tensor  # (N,)
    in_box: list[Tensor]  # (T K K,) bool each
    overlap: list[Tensor]  # (T K K,) each
    in_segment: list[Tensor]  # (T,) bool each


def load_videos(store: Any, records: Sequence[Any], classes: Sequence[str]) -> Videos:
    from wherewhen.evaluate.truth import box_cells, box_overlap, segment_rows

    grid = store.info.grid
    cubes = [store.load(r.video_id)["rgb"] for r in records]
    return Videos(
        cubes=cubes,
        labels=torch.tensor([list(classes).index(r.label) for r in records]),
        in_box=[torch.from_numpy(box_cells(r, grid).reshape(-1)) for r in records],
        overlap=[torch.from_numpy(box_overlap(r, grid).reshape(-1)).float() for r in records],
        in_segment=[torch.from_numpy(segment_rows(r)) for r in records],
    )


def detector_cells(videos: Videos, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Every positive cell and random negatives, at most MAX_DETECTOR_CELLS rows: (x (N, D), targets (N,))."""
    generator = torch.Generator().manual_seed(seed)
    positives = sum(int(m.sum()) for m in videos.in_box)
    total = sum(m.numel() for m in videos.in_box)
    keep_negative = min(1.0, (MAX_DETECTOR_CELLS - positives) / max(total - positives, 1))
    xs, ys = [], []
    for cube, in_box in zip(videos.cubes, videos.in_box, strict=True):
        keep = in_box | (torch.rand(in_box.shape, generator=generator) < keep_negative)
        xs.append(cells(cube)[keep])
        ys.append(in_box[keep].float())
    return torch.cat(xs), torch.cat(ys)


def pooled(videos: Videos, weights: list[Tensor] | None) -> Tensor:
    """(N, D): per video the weighted mean of its cells (``weights`` (T K K,) each), or the plain mean."""
    out = []
    for i, cube in enumerate(videos.cubes):
        x = cells(cube)
        out.append(x.mean(0) if weights is None else weights[i] @ x / weights[i].sum().clamp_min(1e-12))
    return torch.stack(out)


def oracle_weights(videos: Videos) -> list[Tensor]:
    """Box-overlap weights of the segment's rows (every cell of the video where it has no box)."""
    out = []
    for overlap, segment in zip(videos.overlap, videos.in_segment, strict=True):
        w = overlap.view(len(segment), -1) * segment[:, None]
        out.append(w.reshape(-1) if w.sum() > 0 else torch.ones_like(overlap))
    return out


def attended(videos: Videos, detector: Linear) -> Tensor:
    readout = AttentionReadout(detector, Linear(torch.zeros(1, 1), torch.zeros(1)))
    with torch.no_grad():
        return pooled(videos, [readout.attention(cells(c)[None])[0] for c in videos.cubes])


def best_classifier(train: Tensor, labels: Tensor, val: Tensor, val_labels: Tensor) -> tuple[float, Any]:
    """(the validation score, l2) of the best classifier strength."""
    scored = [(validation_score(fit_logistic(train, labels, l2), val, val_labels), l2) for l2 in CLASSIFIER_L2]
    return max(scored, key=lambda s: s[0])


@dataclass
class Yardstick:
    ceiling: AttentionReadout
    floor: AttentionReadout
    oracle_top1: float
    choices: dict[str, float]


def fit_yardstick(store: Any, seed: int = 0) -> Yardstick:
    """Fit ceiling, oracle and floor on the train split of ``store`` (strengths picked on validation)."""
    from wherewhen.evaluate.runner import split_records
    from wherewhen.train.data import plan_splits

    classes = list(store.info.classes)
    plan = plan_splits(store, train_split="train", val_split="", val_fraction=0.2, seed=seed)
    fit, val = load_videos(store, plan.train, classes), load_videos(store, plan.val, classes)
    scored = []
    for l2 in DETECTOR_L2:
        detector = fit_logistic(*detector_cells(fit, seed), l2)
        score, cls_l2 = best_classifier(attended(fit, detector), fit.labels, attended(val, detector), val.labels)
        scored.append((score, l2, cls_l2))
    _, det_l2, ceiling_l2 = max(scored, key=lambda s: s[0])
    _, floor_l2 = best_classifier(pooled(fit, None), fit.labels, pooled(val, None), val.labels)
    _, oracle_l2 = best_classifier(
        pooled(fit, oracle_weights(fit)), fit.labels, pooled(val, oracle_weights(val)), val.labels
    )
    train = load_videos(store, plan.train + plan.val, classes)
    detector = fit_logistic(*detector_cells(train, seed), det_l2)
    test = load_videos(store, split_records(store, "test"), classes)
    oracle = fit_logistic(pooled(train, oracle_weights(train)), train.labels, oracle_l2)
    return Yardstick(
        ceiling=AttentionReadout(detector, fit_logistic(attended(train, detector), train.labels, ceiling_l2)),
        floor=AttentionReadout(None, fit_logistic(pooled(train, None), train.labels, floor_l2)),
        oracle_top1=validation_score(oracle, pooled(test, oracle_weights(test)), test.labels)[0],
        choices={"detector_l2": det_l2, "ceiling_l2": ceiling_l2, "floor_l2": floor_l2, "oracle_l2": oracle_l2},
    )


def score(model: nn.Module, store: Any, name: str) -> dict[str, Any]:
    """One row of the accuracy table, as ``attention_check`` makes them for trained models."""
    from benchmarks.attention_check import row_from_evaluation
    from wherewhen.evaluate.runner import evaluate_model

    evaluation = evaluate_model(model, store, list(store.info.classes))
    return row_from_evaluation(name, evaluation)


def run(store: Path | None = None) -> list[dict[str, Any]]:
    """The three yardstick rows: the ceiling and the floor with every figure, the oracle with its top-1."""
    from benchmarks.common import embedded_store
    from wherewhen.features.store import FeatureStore

    features = FeatureStore(store if store is not None else embedded_store())
    yardstick = fit_yardstick(features)
    rows = [
        score(yardstick.ceiling, features, "ceiling: supervised attention"),
        {"model": "oracle pooling: box and segment", "top1": yardstick.oracle_top1},
        score(yardstick.floor, features, "floor: average pooling"),
    ]
    for row in rows:
        row["kind"] = "yardstick"
    return rows


def main(argv: list[str] | None = None) -> int:
    from benchmarks.attention_check import table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="feature store (default: the embedded benchmark, made if missing)")
    args = parser.parse_args(argv)
    print(table(run(args.store)))
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
