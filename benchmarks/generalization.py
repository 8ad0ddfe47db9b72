"""The default model beyond the draw it is reported on: another seed of the benchmark, the `full` preset, and 200
videos per class; three training seeds each, scored on each benchmark's own test split, beside the supervised-attention
ceiling of that benchmark (``benchmarks.yardstick``), so a gap between benchmarks reads as the draw's or the model's.

    python -m benchmarks.generalization [--settings seed2,vpc200,full] [--seeds 0,1,2]

Each setting generates its benchmark once (under benchmarks/_work/, resumable), extracts its cubes, trains
`wherewhen train`'s default model with its defaults for every seed and evaluates it on the test split. Nothing is
chosen here. The targets: within 0.05 of the `default` preset's figures on another seed and on `full`; top-1 >=
0.97, pointing game >= 0.90, frame-mAP@0.3 >= 0.50 and temporal mAP@0.5 >= 0.70 with 200 videos per class.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks import yardstick
from benchmarks.attention_check import METRICS, seed_runs, summarize
from benchmarks.common import WORK
from benchmarks.results import Results

SECTION = "Accuracy: the default model on other benchmarks (test splits)"
COMMAND = "python -m benchmarks.generalization"
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "seed2": ("default", {"seed": 2}),
    "vpc200": ("default", {"videos_per_class": 200}),
    "full": ("full", {}),
}
TARGETS = {"vpc200": {"top1": ">= 0.97", "pointing_game": ">= 0.90", "frame_map_0.3": ">= 0.50",
                      "temporal_map_0.5": ">= 0.70"}}  # fmt: skip
WITHIN = "within 0.05 of the default preset's"
CEILING_NOTE = "benchmarks.yardstick on this benchmark: detector and classifier fitted on its train split"


def setting_store(name: str) -> Path:
    """Generate (once) the benchmark of one setting and extract its cubes; the store's folder."""
    from wherewhen.datasets.benchmark import generate_benchmark, preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos

    preset_name, overrides = SETTINGS[name]
    root, store = WORK / f"bench-{name}", WORK / f"bench-{name}-features"
    generate_benchmark(root, preset(preset_name).with_overrides(overrides))
    index = read_dataset("embedded", root)
    extract_videos(index.records, store, ExtractOptions(progress=False), classes=index.classes)
    return store


def setting_runs(name: str) -> Path:
    """The folder of one setting's training runs."""
    return WORK / "generalization" / name


def measure(
    results: Results, settings: list[str], seeds: tuple[int, ...], jobs: int = 2, folder: Path | None = None
) -> list[dict[str, Any]]:
    """Every setting in the order given; with ``folder``, RESULTS.md is written after each (a long run that stops
    keeps what it measured)."""
    from wherewhen.train.config import RunConfig

    model = RunConfig().model.name
    if folder is not None:
        keep_other_settings(results, folder, settings)
    rows = []
    for name in settings:
        store = setting_store(name)
        runs = seed_runs(store, setting_runs(name), [model], seeds, (), jobs)
        row = summarize(model, runs[model], f"{model} on {name}")
        rows.append(row)
        ceiling = yardstick.run(store)[0]
        command = f"{COMMAND} --settings {name}"
        for key, title in METRICS:
            target = TARGETS.get(name, {}).get(key, "" if name == "vpc200" else WITHIN)
            note = f"range {row[f'{key}_min']:.3f}-{row[f'{key}_max']:.3f}, {row['seeds']} seeds"
            if ceiling.get(key):
                note += f", {100 * row[key] / ceiling[key]:.0f} % of the ceiling"
            results.add(SECTION, f"{model} on {name}: {title}, mean of seeds", float(row[key]), target=target,
                        command=command, note=note)  # fmt: skip
        for key, title in METRICS:
            results.add(SECTION, f"supervised-attention ceiling on {name}: {title}", float(ceiling[key]),
                        command=command, note=CEILING_NOTE)  # fmt: skip
        if folder is not None:
            results.write(folder)
    return rows


def keep_other_settings(results: Results, folder: Path, settings: list[str]) -> None:
    """A run of some settings keeps the figures (and dates) of the others from ``folder``'s results.json: the section
    is rewritten after each setting, and would otherwise lose them."""
    import json

    from benchmarks.results import Figure

    path = folder / "results.json"
    if not path.is_file():
        return
    for figure in json.loads(path.read_text()).get("figures", []):
        others = [s for s in SETTINGS if s not in settings and f" on {s}:" in figure["name"]]
        if figure["section"] == SECTION and others:
            results.figures.append(Figure(**figure))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated: {', '.join(SETTINGS)}")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        parser.exit(2, f"error: unknown setting {unknown[0]!r}; choose from {', '.join(SETTINGS)}\n")
    results = Results()
    here = Path(__file__).resolve().parent
    measure(results, settings, tuple(int(s) for s in args.seeds.split(",")), args.jobs, here)
    print(f"wrote {here / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
