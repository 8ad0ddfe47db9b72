"""Training throughput on cached features, and where the time goes (data wait, forward, backward, optimizer).

    python -m benchmarks.training_speed [STORE] [--models stam,lstm_avg] [--set model.separable=true ...]

Trains each named model for two epochs on the embedded benchmark's feature store (or STORE) with the engine's own
dataset, collate and optimizer (defaults of `wherewhen train`), timing each phase of every step. ``--set`` takes
config overrides as ``wherewhen train --set`` does (model keywords included); the rows then name them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from benchmarks.common import Stopwatch, add_set_option, embedded_store, run_or_exit, with_settings
from benchmarks.results import Results
from wherewhen.features.store import FeatureStore
from wherewhen.models import build_model
from wherewhen.train.config import load_config
from wherewhen.train.data import ClipDataset, collate, resolve_frames
from wherewhen.train.engine import build_optimizer, to_device

COMMAND = "python -m benchmarks.training_speed"


def measure(
    store_path: Path,
    results: Results,
    models: tuple[str, ...] = ("stam", "lstm_avg"),
    epochs: int = 2,
    overrides: tuple[str, ...] = (),
) -> dict:
    store = FeatureStore(store_path)
    info = store.info
    records = [r for r in store.records() if r.split == "train"]
    command, setting = with_settings(COMMAND, overrides)
    out = {}
    for name in models:
        config = load_config(None, [f"model.name={name}", *overrides])
        frames = resolve_frames(config.data.frames, records)
        torch.manual_seed(0)
        model = build_model(
            name, num_classes=len(info.classes), in_channels=info.channels, grid=info.grid, **config.model.args
        )
        model.train()
        optimizer = build_optimizer(model, config.optim)
        dataset = ClipDataset(store, records, info.classes, frames, train=True, flow=model.uses_flow)
        loader = DataLoader(
            dataset,
            batch_size=config.data.batch_size,
            shuffle=True,
            collate_fn=collate,
            num_workers=config.data.num_workers,
        )
        wait, forward, backward, step = Stopwatch(), Stopwatch(), Stopwatch(), Stopwatch()
        clips = 0
        start = time.perf_counter()
        for epoch in range(epochs):
            dataset.set_epoch(epoch)
            batches = iter(loader)
            while True:
                with wait:
                    batch = next(batches, None)
                if batch is None:
                    break
                inputs, targets = to_device(batch, torch.device("cpu"))
                with forward:
                    loss = sum(model.loss_terms(model(**inputs), targets).values())
                with backward:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                with step:
                    optimizer.step()
                clips += len(targets)
        total = time.perf_counter() - start
        share = {
            k: 100 * w.total / total
            for k, w in (("data", wait), ("forward", forward), ("backward", backward), ("optimizer", step))
        }
        where = ", ".join(f"{k} {v:.0f} %" for k, v in share.items())
        results.add(
            "Training",
            f"{name}{setting} throughput",
            clips / total,
            "clips/s",
            command=command,
            note=f"batch {config.data.batch_size}, T={frames}; {where}",
        )
        out[name] = {"clips_per_s": clips / total, **share}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", nargs="?", type=Path, help="feature store (default: the embedded benchmark's)")
    parser.add_argument("--models", default="stam,lstm_avg", help="comma-separated model names")
    add_set_option(parser)
    args = parser.parse_args()
    models = tuple(m.strip() for m in args.models.split(","))
    run_or_exit(
        parser, lambda: measure(args.store or embedded_store(), Results(), models, overrides=tuple(args.overrides))
    )
