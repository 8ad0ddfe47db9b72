"""Is the embedded benchmark solvable only by looking at the right place at the right time? An oracle check.

Reads a generated benchmark with the toolkit's own `embedded` reader, extracts its feature cubes with the toolkit's
own extraction job (EfficientNet-Lite0, 16 uniformly sampled frames, 1280 x 7 x 7: exactly what `make demo` trains
on), pools them five ways and fits an L2-regularised logistic regression:

  (a) average     mean over all 7x7 cells and all frames               (no attention: what average pooling sees)
  (a') max         max over cells and frames                            (no attention, a stronger pooling)
  (b) oracle      box-weighted cells, only frames inside the segment   (perfect where AND when)
  (c) where only  box-weighted cells of the actor, all frames          (perfect where, no when)
  (d) when only   mean over all cells, only frames inside the segment  (perfect when, no where)
  class_mass      area of each class's tiles, from the plans           (a perfect class detector, no attention)

The design holds when (b) is near 100 % and (a), (c), (d) are clearly below it. Accuracy is reported on the
benchmark's own split (trainlist01/testlist01) and as the mean of a stratified 5-fold cross-validation over all
videos (less noisy), each at the best of several regularisation strengths (which favours the baselines).

    PYTHONPATH=src python benchmarks/benchmark_difficulty.py --preset default
    PYTHONPATH=src python benchmarks/benchmark_difficulty.py --preset full --device cuda
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from wherewhen.datasets.benchmark import BenchmarkConfig, VideoPlan, generate_benchmark, plan_benchmark, preset
from wherewhen.datasets.benchmark.annotations import video_relpath
from wherewhen.datasets.registry import read_dataset
from wherewhen.features.extract import ExtractOptions, extract_videos
from wherewhen.features.store import FeatureRecord, FeatureStore
from wherewhen.video.sampling import uniform_indices

WORK = Path(__file__).resolve().parent / "_work"
FRAMES = 16  # the extraction's default sampling: 16 frames at the centres of 16 equal parts


FOLDS = 5
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
POOLINGS = ("average", "max", "oracle", "where_only", "when_only")


def cell_weights(box: tuple[int, int, int, int], crop: tuple[float, float, float, float], grid: int) -> np.ndarray:
    """(K, K) weights: the fraction of the box's area in each grid cell; the grid covers ``crop`` (x, y, w, h)."""
    x, y, w, h = box
    edges_x = crop[0] + np.linspace(0, crop[2], grid + 1)
    edges_y = crop[1] + np.linspace(0, crop[3], grid + 1)
    ox = np.clip(np.minimum(edges_x[1:], x + w) - np.maximum(edges_x[:-1], x), 0, None)
    oy = np.clip(np.minimum(edges_y[1:], y + h) - np.maximum(edges_y[:-1], y), 0, None)
    weights = oy[:, None] * ox[None, :]
    return weights / weights.sum()


def pool(cube: np.ndarray, plan: VideoPlan, record: FeatureRecord) -> np.ndarray:
    """(5, D): the cube (T, D, K, K) pooled each way of POOLINGS."""
    indices = record.frame_indices
    inside = np.array([plan.in_segment(i) for i in indices])
    weights = np.stack([cell_weights(plan.box(i), record.crop, cube.shape[-1]) for i in indices])
    boxed = np.einsum("tdkl,tkl->td", cube, weights)  # (T, D): the actor's box, each frame
    return np.stack(
        [
            cube.mean(axis=(0, 2, 3)),
            cube.max(axis=(0, 2, 3)),
            boxed[inside].mean(axis=0),
            boxed.mean(axis=0),
            cube[inside].mean(axis=(0, 2, 3)),
        ]
    )


def class_mass(config: BenchmarkConfig) -> np.ndarray:
    """(N, C) area of the tiles showing each class, summed over objects, averaged over the 16 sampled frames.

    Computed from the plans, not from pixels: what a perfect class detector without attention would pool.
    """
    indices = uniform_indices(config.frames, FRAMES)
    rows = []
    for plan in plan_benchmark(config):
        mass = np.zeros(config.classes)
        for obj in (*plan.distractors, plan.actor):
            np.add.at(mass, obj.shows[indices], obj.size[0] * obj.size[1] / len(indices))
        rows.append(mass / (config.width * config.height))
    return np.array(rows)


def fingerprint(root: Path, plans: list[VideoPlan]) -> str:
    digest = hashlib.sha1()
    for plan in plans:
        digest.update((root / "videos" / video_relpath(plan)).read_bytes())
    return digest.hexdigest()[:16]


def pooled_features(root: Path, config: BenchmarkConfig, device: str | None) -> np.ndarray:
    """(N, 5, D) pooled features of every video, from a feature store under benchmarks/_work named by the videos."""
    plans = plan_benchmark(config)
    index = read_dataset("embedded", root)
    store_dir = WORK / f"features_{fingerprint(root, plans)}"
    summary = extract_videos(index.records, store_dir, ExtractOptions(device=device), classes=index.classes)
    if summary.written:
        print(f"extracted {summary.written} videos at {summary.frames_per_second:.0f} frames/s")
    store = FeatureStore(store_dir)
    records = {Path(r.video).stem: r for r in store.records()}
    pooled = []
    for plan in plans:
        record = records[plan.stem]
        if record.frame_indices != uniform_indices(config.frames, FRAMES):
            raise SystemExit(f"{record.video}: sampled frames {record.frame_indices} are not the uniform 16")
        cube = store.load(record.video_id)["rgb"].float().numpy()
        pooled.append(pool(cube, plan, record))
    return np.stack(pooled)


def fit_logistic(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, l2: float, classes: int) -> np.ndarray:
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    xt = torch.from_numpy((x_train - mean) / std).double()
    xs = torch.from_numpy((x_test - mean) / std).double()
    yt = torch.from_numpy(y_train).long()
    linear = torch.nn.Linear(xt.shape[1], classes).double()
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(xt), yt) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return linear(xs).argmax(1).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    parser.add_argument("--root", type=Path, help="benchmark folder (default: benchmarks/_work/<preset>)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--device", default=None, help="backbone device (default: CUDA when present)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    config = preset(args.preset).with_overrides(dict(s.split("=", 1) for s in args.set))
    root = args.root or WORK / (args.preset + "".join(f"_{s}" for s in args.set))
    started = time.perf_counter()
    summary = generate_benchmark(root, config, workers=args.workers)
    generation = time.perf_counter() - started
    print(f"generated {summary.generated} (skipped {summary.skipped}) videos in {generation:.1f} s under {root}")
    pooled = dict(zip(POOLINGS, pooled_features(root, config, args.device).transpose(1, 0, 2), strict=True))
    pooled["class_mass"] = class_mass(config)
    plans = plan_benchmark(config)
    labels = np.array([p.label for p in plans])
    train = np.array([p.split == "train" for p in plans])
    folds = stratified_folds(labels, FOLDS)
    results: dict[str, dict[str, float]] = {}
    print(f"{'pooling':11s} {'split 01':>9s} {f'{FOLDS}-fold CV':>11s}   (best of L2 {L2_GRID})")
    for name, features in pooled.items():
        split_acc = max(accuracy(features, labels, train, l2, config.classes) for l2 in L2_GRID)
        cv_acc = max(
            float(np.mean([accuracy(features, labels, folds != k, l2, config.classes) for k in range(FOLDS)]))
            for l2 in L2_GRID
        )
        results[name] = {"split01": split_acc, "cv": cv_acc}
        print(f"{name:11s} {split_acc:9.3f} {cv_acc:11.3f}")
    print(f"chance {1 / config.classes:.3f}; split 01: {summary.train} train / {summary.test} test videos")
    if args.json:
        payload = {"config": config.to_dict(), "chance": 1 / config.classes, "accuracy": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def stratified_folds(labels: np.ndarray, k: int) -> np.ndarray:
    """Fold number of each video: every class dealt round-robin over k folds after a fixed shuffle."""
    folds = np.empty(len(labels), dtype=int)
    order = np.random.default_rng(0).permutation(len(labels))
    for c in np.unique(labels):
        members = order[labels[order] == c]
        folds[members] = np.arange(len(members)) % k
    return folds


def accuracy(features: np.ndarray, labels: np.ndarray, train: np.ndarray, l2: float, classes: int) -> float:
    predicted = fit_logistic(features[train], labels[train], features[~train], l2, classes)
    return float((predicted == labels[~train]).mean())


if __name__ == "__main__":
    sys.exit(main())
