"""Attention models vs pooling on the embedded benchmark: train every registered model with its defaults on the
train split, evaluate it once on the test split, print one table.

    python -m benchmarks.attention_check                          # generates + extracts the benchmark if missing
    python -m benchmarks.attention_check --store STORE --models stam,lstm_avg
    python -m benchmarks.attention_check --models stam --set model.separable=true --set seed=1

Nothing here chooses anything on the test split: each run trains with `wherewhen train`'s defaults (validation
carved from the train split picks the saved epoch), then `evaluate_run` scores the saved model on the test split.
``--set`` passes training overrides (as for ``wherewhen train --set``) to every run; the rows then name them.
``run(store, work, models)`` is what ``make bench`` calls.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import WORK as COMMON_WORK
from benchmarks.common import add_set_option, embedded_store, with_settings

WORK = COMMON_WORK / "attention-check"
COLUMNS = (
    ("model", "model", "{}"),
    ("top1", "test top-1", "{:.3f}"),
    ("mean_class_accuracy", "mean class acc.", "{:.3f}"),
    ("pointing_game", "pointing game", "{:.3f}"),
    ("frame_map_0.3", "frame-mAP@0.3", "{:.3f}"),
    ("temporal_map_0.5", "temporal mAP@0.5", "{:.3f}"),
    ("train_seconds", "train s", "{:.0f}"),
)


def train_and_evaluate(model: str, store: Path, run_dir: Path, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    from wherewhen.evaluate.runner import evaluate_run
    from wherewhen.train import train
    from wherewhen.train.config import load_config

    if run_dir.exists():
        shutil.rmtree(run_dir)
    config = load_config(
        values={"data.store": str(store), "model.name": model}, overrides=["train.progress=false", *overrides]
    )
    started = time.perf_counter()
    result = train(config, run_dir, verbose=False)
    seconds = time.perf_counter() - started
    evaluation, _ = evaluate_run(run_dir, force=True)
    return row_from_evaluation(" ".join([model, *overrides]), evaluation) | {
        "name": model,
        "train_seconds": seconds,
        "best_epoch": result.best_epoch,
        "epochs_done": result.epochs_done,
        "run_dir": str(run_dir),
    }


def row_from_evaluation(model: str, evaluation: Any) -> dict[str, Any]:
    """The table's figures of one evaluation (an ``EvaluationResult``)."""
    cls = evaluation.classification
    spatial = evaluation.spatial or {}
    temporal = evaluation.temporal or {}
    return {
        "model": model,
        "top1": cls.top1 if cls is not None else float("nan"),
        "mean_class_accuracy": cls.mean_class_accuracy if cls is not None else float("nan"),
        "pointing_game": float(spatial.get("pointing_game", float("nan"))),
        "frame_map_0.3": float(spatial.get("frame_map", {}).get("0.3", float("nan"))),
        "temporal_map_0.5": float(temporal.get("map", {}).get("0.5", float("nan"))),
    }


# Models whose output attends nowhere and to no frame in particular (uniform spatial and temporal attention).
POOLING = ("softmax_cube", "lstm_avg", "lstm_max", "convlstm", "tsn")
SECTION = "Accuracy: embedded benchmark (default preset, test split)"
COMMAND = "python -m benchmarks.attention_check"


def run(
    store: Path | None,
    work: Path = WORK,
    models: list[str] | None = None,
    results: Any = None,
    overrides: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Train and test each model (default: every shipped model; flow models need a store extracted with flow);
    one row each, also added to ``results`` (a benchmarks.results.Results) with the check attention vs pooling."""
    from wherewhen.features.store import FeatureStore
    from wherewhen.models import available_models, model_class

    work = Path(work)
    store = Path(store) if store is not None else embedded_store()
    has_flow = FeatureStore(store).info.flow
    shipped = [n for n in available_models() if model_class(n).__module__.startswith("wherewhen.models.")]
    names = models or [n for n in shipped if has_flow or not model_class(n).uses_flow]
    command, _ = with_settings(COMMAND, overrides)
    rows = []
    for name in names:
        row = train_and_evaluate(name, store, work / "runs" / "-".join([name, *overrides]), overrides)
        print(format_row(row), flush=True)
        rows.append(row)
        if results is not None:
            kind = "no attention" if name in POOLING else "attention"
            for key, title, _ in COLUMNS[1:]:
                unit = "s" if key == "train_seconds" else ""
                label = f"{row['model']} ({kind}): {title}"
                results.add(SECTION, label, float(row[key]), unit, command=command)
    if results is not None:
        check(rows, results)
    return rows


def check(rows: list[dict[str, Any]], results: Any) -> None:
    """The benchmark's promise: the best model without attention scores clearly below the attention models."""
    pooled = [r for r in rows if r["name"] in POOLING]
    attending = [r for r in rows if r["name"] not in POOLING]
    if not pooled or not attending:
        return
    best_pooled = max(pooled, key=lambda r: r["top1"])
    above = [r["model"] for r in attending if r["top1"] >= best_pooled["top1"] + 0.1]
    results.add(
        SECTION,
        "best model without attention: top-1",
        float(best_pooled["top1"]),
        command=COMMAND,
        note=best_pooled["model"],
    )
    results.add(
        SECTION,
        "attention models at least 0.10 above it",
        f"{len(above)} of {len(attending)}: {', '.join(above) or 'none'}",
        command=COMMAND,
    )


def format_row(row: dict[str, Any]) -> str:
    return "| " + " | ".join(fmt.format(row[key]) if key in row else "" for key, _, fmt in COLUMNS) + " |"


def table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    return "\n".join([head, rule, *(format_row(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="feature store of the embedded benchmark (default: make one)")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for the benchmark, the store and the runs")
    parser.add_argument("--models", help="comma-separated model names (default: every model without flow)")
    add_set_option(parser)
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    from benchmarks.results import Results

    rows = run(args.store, args.work, models, results=Results(), overrides=tuple(args.overrides))
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
