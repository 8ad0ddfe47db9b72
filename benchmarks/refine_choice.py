"""How the refinement's pseudo labels were chosen, on validation only: every trained run refined once per candidate
share of its clip's peak (``train.refine.PSEUDO_SHARE``), with the gate calibrated to the pseudo positives' own
share or to the cells at other shares of the peak (``--gate-shares``, ``train.refine.GATE_SHARE``), the pseudo
labels cross-checked or not (``--cross-check``, ``train.refine.CROSS_CHECK``), the detector reading each cell alone
or beside its neighbourhood (``--context``, ``train.refine.DETECTOR_CONTEXT``), and scored on videos no choice was
made on before.

    python -m benchmarks.refine_choice [--benchmarks draw1,draw3] [--seeds 0,1,2] [--shares 0.5,0.7,0.85,0.95]
    python -m benchmarks.refine_choice --benchmarks vpc200,full --shares 0.5,0.7,0.85
    python -m benchmarks.refine_choice --benchmarks draw1,draw3,vpc200,full --shares 0.85 --gate-shares 0.5
    python -m benchmarks.refine_choice --benchmarks draw1,draw3,vpc200,full --shares 0.85 --gate-shares 0.5 \
        --cross-check on,off
    python -m benchmarks.refine_choice --benchmarks draw1,draw3,vpc200,full --shares 0.85 --gate-shares 0.5 \
        --context off,on

``drawN``: the `default` preset generated with benchmark seed N (never 0, the reported draw), the default model
trained on it, each trained run refined as ``wherewhen train`` refines it and scored on the draw's test split, which
serves as validation here. ``vpc200`` and ``full``: the runs of ``benchmarks.generalization`` (trained there if
missing), each trained run refined on its training videos only (each strength the middle of its grid) and scored on
the validation videos carved from its train split; their test splits stay unread.

Prints one table: mean (range) over the seeds of top-1, and the means of pointing game, frame-mAP@0.3 and temporal
mAP@0.5, for the trained model before refinement and each share. Writes nothing to RESULTS.md: these figures chose
the share (docs/models.md), the reported draw's test split only reports. Draws and runs stay under
benchmarks/_work/ (a second run reuses them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.attention_check import METRICS, row_from_evaluation, seed_runs
from benchmarks.common import WORK, linked_view

HERE = WORK / "refine-choice"
CARVED = ("vpc200", "full")  # benchmarks.generalization's settings: scored on their carved validation videos


def draw_store(seed: int) -> Path:
    """The `default` preset generated with benchmark seed ``seed`` and extracted (once)."""
    from wherewhen.datasets.benchmark import generate_benchmark, preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos

    root, store = HERE / f"draw{seed}", HERE / f"draw{seed}-features"
    generate_benchmark(root, preset("default").with_overrides({"seed": seed}))
    index = read_dataset("embedded", root)
    extract_videos(index.records, store, ExtractOptions(progress=False), classes=index.classes)
    return store


def trained_runs(benchmark: str, seeds: tuple[int, ...], jobs: int) -> list[Path]:
    """The default model's run folders on ``benchmark``, one per seed (trained here when missing)."""
    from benchmarks import generalization
    from wherewhen.train.config import RunConfig

    model = RunConfig().model.name
    if benchmark in CARVED:
        store, work = generalization.setting_store(benchmark), generalization.setting_runs(benchmark)
    else:
        store, work = draw_store(int(benchmark.removeprefix("draw"))), HERE / benchmark
    return [Path(run["run_dir"]) for run in seed_runs(store, work, [model], seeds, (), jobs, reuse=True)[model]]


@dataclass
class Run:
    """A trained run as this benchmark reads it."""

    folder: Path
    info: dict[str, Any]  # run.json
    store: Any  # FeatureStore
    plan: Any  # train.data.SplitPlan

    @classmethod
    def read(cls, folder: Path) -> Run:
        from wherewhen.features.store import FeatureStore
        from wherewhen.train.data import plan_splits

        info = json.loads((folder / "run.json").read_text())
        store = FeatureStore(info["store"])
        plan = plan_splits(store, train_split="", val_split="", val_fraction=0, seed=0, fixed=info["splits"])
        return cls(folder, info, store, plan)

    def batches(self, records: list[Any], teacher: Any) -> list[dict[str, Any]]:
        from wherewhen.train.data import clip_batches

        return clip_batches(self.store, records, self.plan.classes, self.info["frames"], teacher, batch_size=16)


def scored(model: Any, run: Run, on_carved: bool = False) -> dict[str, Any]:
    """``model`` scored on the test split of the run's store, or (``on_carved``) on the run's validation videos,
    clips of the run's length."""
    from wherewhen.evaluate.runner import EvaluationConfig, evaluate_model
    from wherewhen.features.store import FeatureStore

    store, split = run.store, run.info["splits"]["test"]
    if on_carved:
        carved = [replace(r, split="val") for r in run.plan.val]
        view = HERE / "views" / run.folder.parent.parent.name / run.folder.name
        store, split = FeatureStore(linked_view(run.store, carved, view)), "val"
    config = EvaluationConfig(split=split)
    config = replace(config, clips=replace(config.clips, frames=run.info["frames"]))
    return row_from_evaluation("", evaluate_model(model, store, run.info["classes"], config))


def refined_at(
    run: Run,
    share: float,
    seed: int,
    with_val: bool = True,
    gate: float | None = None,
    cross_check: bool = True,
    context: bool = False,
) -> Any:
    """The run's trained model (model-trained/) refined with pseudo labels at ``share`` of the clip's peak, the gate
    calibrated to the cells at ``gate`` of it (None: to the pseudo positives) and the pseudo labels cross-checked or
    not, the detector reading each cell beside its neighbourhood or not (``context``): as
    ``Session.refine_into_model_dir`` does from the run's training and validation videos, or (not
    ``with_val``) from its training videos alone."""
    from wherewhen.models.pretrained import from_pretrained
    from wherewhen.train import refine as refinement

    teacher = from_pretrained(run.folder / "model-trained").model
    val = run.batches(run.plan.val, teacher) if with_val else []
    names = ("PSEUDO_SHARE", "GATE_SHARE", "CROSS_CHECK", "DETECTOR_CONTEXT")
    defaults = [getattr(refinement, name) for name in names]
    for name, value in zip(names, (share, gate, cross_check, context), strict=True):  # varied here
        setattr(refinement, name, value)
    try:
        return refinement.refine(teacher, run.batches(run.plan.train, teacher), val, seed=seed).model
    finally:
        for name, value in zip(names, defaults, strict=True):
            setattr(refinement, name, value)


def measure(
    benchmarks: list[str],
    seeds: tuple[int, ...],
    shares: list[float],
    jobs: int,
    gates: list[float] | None = None,
    cross_checks: tuple[bool, ...] = (True,),
    contexts: tuple[bool, ...] = (False,),
) -> dict[tuple[str, str], list]:
    """{(benchmark, variant): one row per seed}; variants "trained", "share S" (the gate calibrated to the pseudo
    positives' own share) and "share S, gate G", each with ", no cross-check" where the pseudo labels are not
    cross-checked and ", context" where the detector reads each cell beside its neighbourhood."""
    from wherewhen.models.pretrained import from_pretrained

    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for benchmark in benchmarks:
        carved = benchmark in CARVED
        for seed, folder in zip(seeds, trained_runs(benchmark, seeds, jobs), strict=True):
            run = Run.read(folder)
            trained = from_pretrained(folder / "model-trained").model
            rows.setdefault((benchmark, "trained"), []).append(scored(trained, run, carved))
            grid = [
                (s, g, c, x) for s in shares for g in (None, *(gates or [])) for c in cross_checks for x in contexts
            ]
            for share, gate, check, context in grid:
                row = scored(refined_at(run, share, seed, not carved, gate, check, context), run, carved)
                variant = f"share {share:g}" + ("" if gate is None else f", gate {gate:g}")
                variant += ("" if check else ", no cross-check") + (", context" if context else "")
                rows.setdefault((benchmark, variant), []).append(row)
                print(f"{benchmark} seed {seed} {variant}: " + ", ".join(f"{k} {row[k]:.3f}" for k, _ in METRICS),
                      flush=True)  # fmt: skip
    return rows


def table(rows: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    draws = list(dict.fromkeys(d for d, _ in rows))
    variants = list(dict.fromkeys(v for _, v in rows))
    head = " | ".join(f"{d}: top-1 / pointing / frame-mAP@0.3 / temporal mAP@0.5" for d in draws)
    lines = [f"| variant | {head} |", "|---|" + "---|" * len(draws)]
    for variant in variants:
        cells = []
        for d in draws:
            values = {k: np.array([r[k] for r in rows[(d, variant)]]) for k, _ in METRICS}
            top1 = values["top1"]
            cells.append(f"{top1.mean():.3f} ({top1.min():.2f}-{top1.max():.2f}) / "
                         + " / ".join(f"{values[k].mean():.3f}" for k, _ in METRICS[1:]))  # fmt: skip
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


REPORTED_DRAWS = (0, 2)  # the reported draw and benchmarks.generalization's other draw


def unusable(benchmark: str) -> str | None:
    """Why ``benchmark`` cannot serve as validation here, or None."""
    if benchmark in CARVED:
        return None
    number = benchmark.removeprefix("draw")
    if not (benchmark.startswith("draw") and number.isdigit()):
        return f"unknown benchmark {benchmark!r}; choose drawN (N a benchmark seed) or one of {', '.join(CARVED)}"
    if int(number) in REPORTED_DRAWS:
        return f"{benchmark} is a reported benchmark (its test split reports); choose another draw"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="draw1,draw3", help=f"drawN (N not 0 or 2) or {', '.join(CARVED)}")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--shares", default="0.5,0.7,0.85,0.95", help="candidate shares of the clip's peak")
    parser.add_argument("--gate-shares", default="", help="also calibrate each share's gate to these (GATE_SHARE)")
    parser.add_argument("--cross-check", default="on", help="on, off or on,off: the pseudo labels cross-checked")
    parser.add_argument("--context", default="off", help="off, on or off,on: the detector reads neighbourhoods")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    args = parser.parse_args(argv)
    benchmarks = args.benchmarks.split(",")
    for benchmark in benchmarks:
        if (why := unusable(benchmark)) is not None:
            parser.exit(2, f"error: {why}\n")
    try:
        seeds, shares = tuple(int(s) for s in args.seeds.split(",")), [float(s) for s in args.shares.split(",")]
        gates = [float(g) for g in args.gate_shares.split(",") if g]
    except ValueError as error:
        parser.exit(2, f"error: --seeds takes integers, --shares and --gate-shares numbers ({error})\n")
    checks = args.cross_check.split(",")
    if not checks or any(c not in ("on", "off") for c in checks):
        parser.exit(2, f"error: --cross-check takes on, off or on,off, not {args.cross_check!r}\n")
    contexts = args.context.split(",")
    if not contexts or any(c not in ("on", "off") for c in contexts):
        parser.exit(2, f"error: --context takes on, off or off,on, not {args.context!r}\n")
    switches = tuple(c == "on" for c in checks), tuple(c == "on" for c in contexts)
    print(table(measure(benchmarks, seeds, shares, args.jobs, gates, *switches)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
