"""Learning curves: how test accuracy and localization grow with the number of training videos.

    python -m benchmarks.learning_curves [--models attention_pool,stam:56] [--sizes 28,56,140,280] [--seeds 0,1,2]

One benchmark of the `default` preset with 400 videos per class is generated (seed 0) and extracted once. For each
size n, the first n of each class's train-split videos (in the order of a seeded shuffle, so a smaller set is part
of every larger one) form the training set of a *view* of the store: a folder of links to the same feature files
with its own manifest, where the other train videos are ``unused``; every view keeps the same test split (120
videos per class). The sizes 28, 56, 140 and 280 are the train splits of ``videos_per_class`` 40, 80, 200 and 400.
Each model trains with `wherewhen train`'s defaults (validation carved from its training set) for each seed and is
scored on the test split; the supervised-attention ceiling is fitted on the same training set
(``benchmarks.yardstick``). ``NAME:N`` in ``--models`` trains that model only up to N videos per class (its cells
beyond read "not trained"). One table per metric goes to RESULTS.md. Finished runs are kept and read again, so the
command resumes where it stopped and adds models or seeds to what is there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.attention_check import METRICS, seed_runs, summarize
from benchmarks.common import WORK, add_set_option, linked_view

SECTION = "Learning curves: default preset, 400 videos per class, fixed test split"
COMMAND = "python -m benchmarks.learning_curves"
SIZES = (28, 56, 140, 280)
# the larger sizes only where the runs stay affordable on 2 cores (two runs at a time, from the runs' metrics.csv):
# a wtalc run at 140 per class takes 4 min, a stam run at 56 6-8 min, and a run's time grows with its clips
MODELS = "attention_pool,stpn:140,wtalc:140,basnet:140,cola:140,stam:56"


def full_store() -> Path:
    """The 400-videos-per-class benchmark and its cubes, made once (both steps resume)."""
    from wherewhen.datasets.benchmark import generate_benchmark, preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos

    root, store = WORK / "curves-benchmark", WORK / "curves-features"
    generate_benchmark(root, preset("default").with_overrides({"videos_per_class": 400}))
    index = read_dataset("embedded", root)
    extract_videos(index.records, store, ExtractOptions(progress=False), classes=index.classes)
    return store


def store_view(store: Path, out: Path, per_class: int, seed: int = 0) -> Path:
    """A store of links to ``store``'s files whose train split holds ``per_class`` videos of each class."""
    from wherewhen.features.store import FeatureStore

    source = FeatureStore(store)
    records = source.records()
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for label in source.info.classes:
        train = sorted(r.video_id for r in records if r.split == "train" and r.label == label)
        if len(train) < per_class:
            raise SystemExit(f"{store}: class {label} has {len(train)} train videos, fewer than {per_class}")
        chosen |= {train[i] for i in rng.permutation(len(train))[:per_class]}
    kept = [r for r in records if r.split != "train" or r.video_id in chosen]
    return linked_view(source, kept, out)


def parse_models(text: str) -> dict[str, int | None]:
    """``"attention_pool,stam:56"`` -> {model: the largest size it trains at (None: every size)}."""
    out: dict[str, int | None] = {}
    for item in text.split(","):
        name, _, largest = item.strip().partition(":")
        if not name or (largest and not largest.isdigit()):
            raise ValueError(f"--models: {item.strip()!r} is not NAME or NAME:N (N videos per class, e.g. stam:56)")
        out[name] = int(largest) if largest else None
    return out


def curves(
    models: dict[str, int | None],
    sizes: tuple[int, ...],
    seeds: tuple[int, ...],
    overrides: tuple[str, ...],
    jobs: int,
) -> dict[int, list[dict[str, Any]]]:
    """{size: one summarized row per model trained at that size, the ceiling first}."""
    from benchmarks import yardstick

    store = full_store()
    out: dict[int, list[dict[str, Any]]] = {}
    for n in sizes:
        view = WORK / "curves-views" / f"train{n}"
        if not (view / "manifest.jsonl").is_file():
            store_view(store, view, n)
        here = [m for m, largest in models.items() if largest is None or n <= largest]
        per_seed = seed_runs(view, WORK / "curves-runs" / f"train{n}", here, seeds, overrides, jobs, reuse=True)
        ceiling = yardstick.run(view)[0]
        out[n] = [ceiling | {"name": "ceiling", "seeds": 1}] + [summarize(m, per_seed[m], m) for m in here]
        print(f"train videos per class {n}: " + "; ".join(f"{r['name']} {r['top1']:.3f}" for r in out[n]), flush=True)
    return out


def curve_tables(table: dict[int, list[dict[str, Any]]]) -> str:
    """One markdown table per metric: rows are models, columns train videos per class."""
    sizes = sorted(table)
    names = list(dict.fromkeys(r["name"] for n in sizes for r in table[n]))
    parts = []
    for key, title in METRICS:
        head = f"| {title} | " + " | ".join(f"{n} per class" for n in sizes) + " |"
        lines = [head, "|" + "---|" * (len(sizes) + 1)]
        for name in names:
            cells = []
            for n in sizes:
                row = next((r for r in table[n] if r["name"] == name), None)
                value = float("nan") if row is None else row.get(key, float("nan"))
                if row is None:
                    cells.append("not trained")
                elif row.get("seeds", 1) > 1:
                    cells.append(f"{value:.3f} ({row[f'{key}_min']:.2f}-{row[f'{key}_max']:.2f})")
                else:
                    cells.append(f"{value:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def measure(
    results: Any,
    models: str = MODELS,
    sizes: tuple[int, ...] = SIZES,
    seeds: tuple[int, ...] = (0, 1, 2),
    overrides: tuple[str, ...] = (),
    jobs: int = 2,
) -> None:
    command = (
        COMMAND
        if models == MODELS and sizes == SIZES
        else f"{COMMAND} --models {models} --sizes {','.join(map(str, sizes))}"
    )
    results.add_table(SECTION, curve_tables(curves(parse_models(models), sizes, seeds, overrides, jobs)), command)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.results import Results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=MODELS, help="comma-separated model names; NAME:N trains NAME up to N videos per class"
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="train videos per class")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    add_set_option(parser)
    args = parser.parse_args(argv)
    try:
        parse_models(args.models)
    except ValueError as error:
        parser.error(str(error))
    results = Results()
    measure(
        results,
        args.models,
        tuple(int(s) for s in args.sizes.split(",")),
        tuple(int(s) for s in args.seeds.split(",")),
        tuple(args.overrides),
        args.jobs,
    )
    written = results.write(Path(__file__).resolve().parent)
    print(f"wrote {written[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
