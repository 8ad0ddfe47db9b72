"""How the refinement's pseudo labels were chosen, on validation draws only: the default model trained on two other
draws of the embedded benchmark (`default` preset, benchmark seeds 1 and 3, never the reported draw), three training
seeds each; every trained run is refined once per candidate share of its clip's peak (``train.refine.PSEUDO_SHARE``)
and scored on its draw's test split, which serves as validation here.

    python -m benchmarks.refine_choice [--draws 1,3] [--seeds 0,1,2] [--shares 0.5,0.7,0.85,0.95]

Prints one table: mean (range) over the seeds of top-1, and the means of pointing game, frame-mAP@0.3 and temporal
mAP@0.5, for the trained model before refinement and each share. Writes nothing to RESULTS.md: these figures chose
the share (docs/models.md), the reported draw's test split only reports. The draws and the trained runs stay under
benchmarks/_work/ (a second run reuses them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.attention_check import METRICS, row_from_evaluation, seed_runs
from benchmarks.common import WORK

HERE = WORK / "refine-choice"


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


def scored(model: Any, run_dir: Path) -> dict[str, Any]:
    """``model`` scored on the test split of the run's store, clips of the run's length."""
    from wherewhen.evaluate.runner import EvaluationConfig, evaluate_model
    from wherewhen.features.store import FeatureStore

    run = json.loads((run_dir / "run.json").read_text())
    config = EvaluationConfig(split=run["splits"]["test"])
    config = replace(config, clips=replace(config.clips, frames=run["frames"]))
    return row_from_evaluation("", evaluate_model(model, FeatureStore(run["store"]), run["classes"], config))


def refined_at(run_dir: Path, share: float, seed: int) -> Any:
    """The run's trained model (model-trained/) refined with pseudo labels at ``share`` of the clip's peak, from
    the run's own training and validation videos (as ``Session.refine_into_model_dir`` does)."""
    from torch.utils.data import DataLoader

    from wherewhen.features.store import FeatureStore
    from wherewhen.models.pretrained import from_pretrained
    from wherewhen.train import refine as refinement
    from wherewhen.train.data import ClipDataset, collate, plan_splits

    run = json.loads((run_dir / "run.json").read_text())
    teacher = from_pretrained(run_dir / "model-trained").model
    store = FeatureStore(run["store"])
    plan = plan_splits(store, train_split="", val_split="", val_fraction=0, seed=seed, fixed=run["splits"])

    def batches(records: list[Any]) -> list[dict[str, Any]]:
        clips = ClipDataset(store, records, plan.classes, run["frames"], train=False, flow=teacher.uses_flow,
                            inputs=teacher.extra_inputs)  # fmt: skip
        return list(DataLoader(clips, batch_size=16, collate_fn=collate))

    refinement.PSEUDO_SHARE = share  # the module constant this benchmark varies; nothing else reads it meanwhile
    return refinement.refine(teacher, batches(plan.train), batches(plan.val), seed=seed).model


def measure(draws: list[int], seeds: tuple[int, ...], shares: list[float], jobs: int) -> dict[tuple[int, str], list]:
    """{(draw, variant): one row per seed}; variants "trained" and "share S"."""
    from wherewhen.models.pretrained import from_pretrained
    from wherewhen.train.config import RunConfig

    model = RunConfig().model.name
    rows: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for draw in draws:
        runs = seed_runs(draw_store(draw), HERE / f"draw{draw}", [model], seeds, (), jobs, reuse=True)[model]
        for seed, run in zip(seeds, runs, strict=True):
            run_dir = Path(run["run_dir"])
            rows.setdefault((draw, "trained"), []).append(scored(from_pretrained(run_dir / "model-trained").model,
                                                                 run_dir))  # fmt: skip
            for share in shares:
                row = scored(refined_at(run_dir, share, seed), run_dir)
                rows.setdefault((draw, f"share {share:g}"), []).append(row)
                print(f"draw {draw} seed {seed} share {share:g}: " + ", ".join(f"{k} {row[k]:.3f}" for k, _ in METRICS),
                      flush=True)  # fmt: skip
    return rows


def table(rows: dict[tuple[int, str], list[dict[str, Any]]]) -> str:
    draws = sorted({d for d, _ in rows})
    variants = list(dict.fromkeys(v for _, v in rows))
    head = " | ".join(f"draw {d}: top-1 / pointing / frame-mAP@0.3 / temporal mAP@0.5" for d in draws)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1,3", help="benchmark seeds of the validation draws (never 0)")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--shares", default="0.5,0.7,0.85,0.95", help="candidate shares of the clip's peak")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    if 0 in draws:
        parser.exit(2, "error: draw 0 is the reported benchmark; choose on other draws\n")
    rows = measure(draws, tuple(int(s) for s in args.seeds.split(",")), [float(s) for s in args.shares.split(",")],
                   args.jobs)  # fmt: skip
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
