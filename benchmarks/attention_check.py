"""Every model beside the yardstick on the embedded benchmark: each model trains with `wherewhen train`'s defaults
on the train split (validation carved from it picks the saved epoch), once per seed, and is scored once on the
test split; the supervised-attention ceiling, box-and-segment oracle pooling and average pooling are fitted on the
same train split (``benchmarks.yardstick``). One table: mean and range over the seeds, and each model's share of
the ceiling's top-1 and pointing game.

    python -m benchmarks.attention_check                          # generates + extracts the benchmark if missing
    python -m benchmarks.attention_check --store STORE --models stam,attention_pool --seeds 0
    python -m benchmarks.attention_check --models stam --set model.separable=true

A model whose recipe names an attention teacher (``train.attention_teacher``, docs/training.md; `stam`'s names the
default model) trains as `wherewhen train --model NAME` does, taught, and once more per seed without it: its own row,
"NAME without its teacher". With the teacher's model among the models, the teacher's runs of the same seeds are the
students' teachers (on RGB, as every model that follows its store is measured here, ``rgb_where_optional``: the run
`wherewhen train` trains beside the flow one on a store with flow, RUN/teacher-rgb, and keeps where its validation is
better; trained once), and the students train after the first pool of runs.

Nothing here chooses anything on the test split. Trainings run in ``--jobs`` processes of one thread each.
``--set`` passes training overrides (as ``wherewhen train --set``) to every run; the rows then name them.
``run(...)`` is what ``make bench`` calls.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import WORK as COMMON_WORK
from benchmarks.common import add_set_option, embedded_store, with_settings
from benchmarks.results import Results

WORK = COMMON_WORK / "attention-check"
METRICS = (
    ("top1", "test top-1"),
    ("pointing_game", "pointing game"),
    ("frame_map_0.3", "frame-mAP@0.3"),
    ("temporal_map_0.5", "temporal mAP@0.5"),
)
SEEDS = (0, 1, 2)
# Models whose output attends nowhere and to no frame in particular (uniform spatial and temporal attention).
POOLING = ("softmax_cube", "lstm_avg", "lstm_max", "convlstm", "tsn")
SECTION = "Accuracy: embedded benchmark (default preset, test split)"
COMMAND = "python -m benchmarks.attention_check"
# Slowest first, so the last jobs to finish are short ones.
SLOW_FIRST = ("stam", "motion_alstm", "conv_alstm", "cola", "wtalc", "basnet", "attention_pool", "convlstm")


def train_and_evaluate(
    model: str, store: Path, run_dir: Path, overrides: tuple[str, ...] = (), reuse: bool = False
) -> dict[str, Any]:
    """Train one run and evaluate it on the test split; with ``reuse``, a finished and evaluated run in
    ``run_dir`` is read instead (long benchmarks resume where they stopped)."""
    from wherewhen.evaluate.runner import evaluate_run
    from wherewhen.train import train
    from wherewhen.train.config import load_config

    if reuse and (finished := finished_row(model, run_dir, overrides)) is not None:
        return finished
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


def finished_row(model: str, run_dir: Path, overrides: tuple[str, ...]) -> dict[str, Any] | None:
    """The row of a finished, evaluated run (its metrics.json and metrics.csv), or None."""
    import csv
    import json

    metrics, run_json = run_dir / "eval-test" / "metrics.json", run_dir / "run.json"
    if not (metrics.is_file() and run_json.is_file()) or not json.loads(run_json.read_text())["finished"]:
        return None
    data = json.loads(metrics.read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        seconds = sum(float(r["seconds"]) for r in csv.DictReader(f))
    spatial, temporal = data.get("spatial") or {}, data.get("temporal") or {}
    return {
        "model": " ".join([model, *overrides]),
        "name": model,
        "top1": data["classification"]["top1"],
        "mean_class_accuracy": data["classification"]["mean_class_accuracy"],
        "pointing_game": float(spatial.get("pointing_game", float("nan"))),
        "frame_map_0.3": float(spatial.get("frame_map", {}).get("0.3", float("nan"))),
        "temporal_map_0.5": float(temporal.get("map", {}).get("0.5", float("nan"))),
        "train_seconds": seconds,
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


def one_run(job: tuple[str, Path, Path, tuple[str, ...], bool]) -> dict[str, Any]:
    """A job of the process pool: one model, one seed, on one thread."""
    import torch

    torch.set_num_threads(1)
    return train_and_evaluate(*job)


@contextmanager
def worker_pool(jobs: int) -> Iterator[Pool]:
    """A pool of ``jobs`` spawned processes that dies with the benchmark: leaving the block, normally or by an
    exception, Ctrl-C or a SIGTERM (turned into SystemExit here), terminates the workers, so a stopped benchmark
    leaves no training behind."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        with get_context("spawn").Pool(jobs) as pool:  # its exit is terminate()
            yield pool
    finally:
        signal.signal(signal.SIGTERM, previous)


Task = tuple[str, Path, Path, tuple[str, ...], bool]  # one_run's job: model, store, run folder, overrides, reuse


def seed_tasks(
    name: str, store: Path, work: Path, seeds: tuple[int, ...], settings: tuple[str, ...], reuse: bool,
    per_seed: list[str] | None = None,
) -> list[Task]:  # fmt: skip
    """One task per seed: ``name`` trained with ``settings`` (and the seed's own ``per_seed`` override, which the run
    folder's name leaves out) in ``work/runs/NAME-seedS-SETTINGS``."""
    return [
        (name, store, work / "runs" / "-".join([name, f"seed{seed}", *settings]),
         (*settings, *([per_seed[i]] if per_seed else []), f"seed={seed}"), reuse)
        for i, seed in enumerate(seeds)
    ]  # fmt: skip


def slowest_first(keyed: list[tuple[str, Task]]) -> list[tuple[str, Task]]:
    return sorted(keyed, key=lambda k: SLOW_FIRST.index(k[1][0]) if k[1][0] in SLOW_FIRST else len(SLOW_FIRST))


def keyed_rows(keyed: list[tuple[str, Task]], jobs: int) -> dict[str, list[dict[str, Any]]]:
    """{key: one row per task of that key}, every task trained in one pool of ``jobs`` processes."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for (key, _), row in zip(keyed, trained_rows([task for _, task in keyed], jobs), strict=True):
        runs.setdefault(key, []).append(row)
    return runs


def seed_runs(
    store: Path,
    work: Path,
    models: list[str],
    seeds: tuple[int, ...],
    overrides: tuple[str, ...],
    jobs: int,
    reuse: bool = False,
    per_model: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """{model: one row per seed}, trained in ``jobs`` processes (``reuse``: finished runs are read, not redone);
    ``per_model``: overrides of some models only, after ``overrides``."""
    keyed = [
        (name, task)
        for name in models
        for task in seed_tasks(name, store, work, seeds, (*overrides, *(per_model or {}).get(name, ())), reuse)
    ]
    return keyed_rows(slowest_first(keyed), jobs)


def trained_rows(tasks: list[tuple[Any, ...]], jobs: int) -> list[dict[str, Any]]:
    """One row per ``one_run`` task, trained in ``jobs`` processes, each printed (by its run folder) as it ends."""
    rows = []
    with worker_pool(jobs) as pool:
        for task, row in zip(tasks, pool.imap(one_run, tasks), strict=True):
            figures = ", ".join(f"{k} {row[k]:.3f}" for k, _ in METRICS)
            print(f"{Path(task[2]).name}: {figures}", flush=True)
            rows.append(row)
    return rows


NO_TEACHER = "train.attention_teacher="  # a model whose recipe names an attention teacher, trained without it


def default_teacher(name: str) -> str:
    """The model that ``name``'s recommended training names as its attention teacher ("" for none)."""
    from wherewhen.train.config import recommended_training

    return str(recommended_training(name).get("train.attention_teacher", ""))


def bench_runs(
    store: Path, work: Path, names: list[str], seeds: tuple[int, ...], overrides: tuple[str, ...], jobs: int
) -> dict[str, list[dict[str, Any]]]:
    """{row key: one row per seed}: every model as `wherewhen train` trains it, and each model whose recipe names an
    attention teacher once more without it (key ``NAME_alone``). Where that teacher is among ``names``, its runs
    here are the students' teachers: the RGB run `wherewhen train` trains first (RUN/teacher on a store without flow,
    RUN/teacher-rgb beside the flow one on a store with flow; tests/test_train_teacher.py), trained once, so those
    students train after the first pool; the others train their own."""
    per_model = rgb_where_optional(names, overrides)

    def tasks(name: str, *extra: str, per_seed: list[str] | None = None) -> list[Task]:
        return seed_tasks(name, store, work, seeds, (*overrides, *per_model.get(name, ()), *extra), False, per_seed)

    students = [n for n in names if default_teacher(n) in names]
    first = [(n, t) for n in names if n not in students for t in tasks(n)]
    first += [(f"{n}_alone", t) for n in names if default_teacher(n) for t in tasks(n, NO_TEACHER)]
    runs = keyed_rows(slowest_first(first), jobs)
    then = []
    for name in students:
        teachers = [f"train.attention_teacher={row['run_dir']}" for row in runs[default_teacher(name)]]
        then += [(name, t) for t in tasks(name, per_seed=teachers)]
    return runs | (keyed_rows(slowest_first(then), jobs) if then else {})


def summarize(name: str, rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """Mean, minimum and maximum over seeds of every metric."""
    out: dict[str, Any] = {"model": label, "name": name, "seeds": len(rows)}
    for key, _ in (*METRICS, ("train_seconds", "")):
        values = np.array([r[key] for r in rows], dtype=np.float64)
        out[key], out[f"{key}_min"], out[f"{key}_max"] = values.mean(), values.min(), values.max()
    return out


def spread(row: dict[str, Any], key: str) -> str:
    if key not in row or np.isnan(row[key]):
        return ""
    if row.get("seeds", 1) > 1:
        return f"{row[key]:.3f} ({row[f'{key}_min']:.2f}-{row[f'{key}_max']:.2f})"
    return f"{row[key]:.3f}"


def share(row: dict[str, Any], ceiling: dict[str, Any] | None, key: str) -> str:
    if ceiling is None or key not in row or not ceiling.get(key):
        return ""
    return f"{100 * row[key] / ceiling[key]:.0f} %"


def table(rows: list[dict[str, Any]], ceiling: dict[str, Any] | None = None) -> str:
    head = ["model", "attention", *(title for _, title in METRICS), "% of ceiling top-1", "% of ceiling pointing"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["model"], row.get("kind", ""), *(spread(row, key) for key, _ in METRICS)]
        cells += [share(row, ceiling, "top1"), share(row, ceiling, "pointing_game")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def label_of(key: str) -> str:
    name, alone, _ = key.partition("_alone")
    return f"{name} without its teacher ({NO_TEACHER})" if alone else key


def kind_of(name: str) -> str:
    from wherewhen.train.config import RunConfig

    if name == RunConfig().model.name:
        return "where + when (the default)"
    return "none" if name in POOLING else "where and/or when"


def run(
    store: Path | None,
    work: Path = WORK,
    models: list[str] | None = None,
    results: Any = None,
    overrides: tuple[str, ...] = (),
    seeds: tuple[int, ...] = SEEDS,
    jobs: int = 2,
) -> list[dict[str, Any]]:
    """Train and test each model (default: every shipped model; flow models need a store extracted with flow) for
    each seed, fit the yardstick; the table and the target figures go to ``results`` (a benchmarks.results.Results)."""
    from benchmarks import yardstick
    from wherewhen.features.store import FeatureStore
    from wherewhen.models import available_models, model_class

    started = time.perf_counter()
    work = Path(work)
    store = Path(store) if store is not None else embedded_store()
    has_flow = FeatureStore(store).info.flow
    shipped = [n for n in available_models() if model_class(n).__module__.startswith("wherewhen.models.")]
    names = models or [n for n in shipped if has_flow or not model_class(n).uses_flow]
    _, named = with_settings(COMMAND, overrides)
    per_seed = bench_runs(store, work, names, seeds, overrides, jobs)
    rows = [
        summarize(key, runs, label_of(key) + named) | {"kind": kind_of(runs[0]["name"])}
        for key, runs in per_seed.items()
    ]
    rows.sort(key=lambda r: -r["top1"])
    marks = yardstick.run(store)
    ceiling = marks[0]
    if results is not None:
        command, _ = with_settings(COMMAND, overrides)
        results.add_table(SECTION, table([*marks, *rows], ceiling), command)
        add_figures(rows, ceiling, results, command)
        minutes = (time.perf_counter() - started) / 60
        note = f"{len(names)} models x {len(seeds)} seeds in {jobs} processes, and the yardstick"
        results.add(SECTION, "wall time of the section", minutes, "min", target="<= 45", command=command, note=note)
    return [*marks, *rows]


def rgb_where_optional(names: list[str], overrides: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``model.flow=false`` for the models that read flow only when their store has it (``flow=None``).

    The benchmark's store carries flow cubes for ``motion_alstm``, which needs them; the benchmark's flow is no cue
    (the actor moves like every distractor: docs/benchmark.md), and the store ``wherewhen extract`` makes of it
    without ``--flow`` has none. So the others are measured as they train on that store: on RGB.
    """
    from wherewhen.models.registry import model_class, model_parameters

    if any(o.startswith("model.flow=") for o in overrides):
        return {}
    out = {}
    for name in names:
        parameter = model_parameters(model_class(name)).get("flow")
        if parameter is not None and parameter.default is None:
            out[name] = ("model.flow=false",)
    return out


TARGETS = {  # (model, metric): target, for the default model and stam (issue 21)
    ("default", "top1"): ">= 0.90",
    ("default", "pointing_game"): ">= 0.80",
    ("default", "frame_map_0.3"): ">= 0.40",
    ("default", "temporal_map_0.5"): ">= 0.60",
    ("stam", "top1"): ">= 0.85",
    ("stam", "pointing_game"): ">= 0.70",
}


def add_figures(rows: list[dict[str, Any]], ceiling: dict[str, Any], results: Any, command: str) -> None:
    """The figures with targets, and the benchmark's promise: pooling stays far below attention."""
    from wherewhen.train.config import RunConfig

    default = RunConfig().model.name
    by_name = {r["name"]: r for r in rows}
    for (who, key), target in TARGETS.items():
        name = default if who == "default" else who
        if name in by_name:
            title = dict(METRICS)[key]
            row = by_name[name]
            label = f"{row['model']}{' (the default model)' if who == 'default' else ''}: {title}, mean of seeds"
            note = f"range {row[f'{key}_min']:.3f}-{row[f'{key}_max']:.3f}, {row['seeds']} seeds"
            results.add(SECTION, label, float(row[key]), target=target, command=command, note=note)
    results.add(SECTION, "supervised-attention ceiling: test top-1", float(ceiling["top1"]), command=command)
    pooled = [r for r in rows if r["name"] in POOLING]
    attending = [r for r in rows if r["name"] not in POOLING]
    if pooled:
        best = max(pooled, key=lambda r: r["top1"])
        results.add(
            SECTION, "best model without attention: test top-1", float(best["top1"]), target="<= 0.40",
            command=command, note=best["model"],
        )  # fmt: skip
        above = [r["model"] for r in attending if r["top1"] >= best["top1"] + 0.1]
        results.add(
            SECTION,
            "attention models at least 0.10 above it",
            f"{len(above)} of {len(attending)}: {', '.join(above) or 'none'}",
            command=command,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="feature store of the embedded benchmark (default: make one)")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for the runs")
    parser.add_argument("--models", help="comma-separated model names (default: every model without flow)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default: 0,1,2)")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each (default: 2)")
    add_set_option(parser)
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",")] if args.models else None
    seeds = tuple(int(s) for s in args.seeds.split(","))
    # the section of RESULTS.md holds the full comparison only: a run of some models or settings just prints
    full = models is None and not args.overrides and seeds == SEEDS
    results = Results() if full else None
    rows = run(args.store, args.work, models, results, tuple(args.overrides), seeds, args.jobs)
    print()
    print(table(rows, rows[0]))
    if results is not None:
        print(f"wrote {results.write(Path(__file__).resolve().parent)[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
