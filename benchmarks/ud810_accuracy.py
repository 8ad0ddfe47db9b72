"""Leave-one-person-out video accuracy on the 27 real ud810 clips (3 arm actions x 3 people x 3 trials).

    python -m benchmarks.ud810_accuracy [FOLDER] [--models stam,lstm_avg,...] [--set model.separable=true ...]
    python -m benchmarks.ud810_accuracy --validation [--models attention_pool] [--set augment.crop=0.5 ...]

FOLDER defaults to ../shared/data/videos/ud810_ps7 when it exists; without it the rows say "not run". Each fold holds
one person out as the test split (the folder reader's group split), trains every model with its defaults (the engine
carves validation from the two training people), and scores video accuracy on the held-out person; the figure is the
mean over the three folds. ``--set`` passes training overrides (as for ``wherewhen train --set``, e.g. ``seed=1`` or a
model keyword) to every run; the rows then name them.

``--validation`` measures instead what a setting can be chosen on without the held-out person: inside each fold,
train on one of its two training people and score the other (both ways; ``data.val_fraction=0``, as one person
cannot be split by person, so the run ends with its schedule instead of early stopping). Its figure is the mean of
the six person-to-person accuracies; those of fold P are the two that leave P out, for a choice made per fold.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import WORK, add_set_option, linked_view, shared_data, with_settings
from benchmarks.results import Results

COMMAND = "python -m benchmarks.ud810_accuracy"
LABEL_PATTERN, GROUP_PATTERN = r"PS7(A\d)", r"(P\d)"


def default_folder() -> Path | None:
    data = shared_data()
    folder = data / "videos" / "ud810_ps7" if data else None
    return folder if folder and folder.is_dir() else None


def default_model() -> str:
    from wherewhen.train.config import RunConfig

    return RunConfig().model.name


def fold_stores(folder: Path) -> list[tuple[str, Path]]:
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.features.store import drop_stale_store

    stores = []
    for person in ("P1", "P2", "P3"):
        index = read_dataset("folder", folder, split=person, label_pattern=LABEL_PATTERN, group_pattern=GROUP_PATTERN)
        out = WORK / f"ud810-{person}-out"
        drop_stale_store(out)
        extract_videos(index.records, out, ExtractOptions(progress=False, flow="dis"), classes=index.classes)
        stores.append((person, out))
    return stores


def run_name(name: str, setting: str) -> str:
    """A run folder's name: the model and its settings, so runs of different settings never share a folder."""
    return f"{name}{setting.replace(' ', '_')}"


def person_view(store: Path, train: str, test: str, out: Path) -> Path:
    """A store of links to ``store``'s cubes of two people: ``train``'s videos in split train, ``test``'s in test."""
    from wherewhen.features.store import FeatureStore

    source = FeatureStore(store)
    records = [
        replace(r, split="train" if r.group == train else "test") for r in source.records() if r.group in (train, test)
    ]
    return linked_view(source, records, out)


def validate(
    results: Results, folder: Path, models: list[str], overrides: tuple[str, ...], seeds: tuple[int, ...]
) -> dict[str, float]:
    """Person-to-person accuracy inside the folds (``--validation``): the figure to choose settings on."""
    from wherewhen.evaluate.runner import evaluate_run
    from wherewhen.train import load_config, train

    command, setting = with_settings(COMMAND + " --validation", overrides)
    stores = dict(fold_stores(folder))
    pairs = [(a, b) for a in stores for b in stores if a != b]
    out = {}
    for name in models:
        per_pair: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
        start = time.perf_counter()
        for first, second in pairs:
            held_out = next(p for p in stores if p not in (first, second))
            view = person_view(stores[held_out], first, second, WORK / "ud810-validation" / f"{first}-to-{second}")
            for seed in seeds:
                run_dir = WORK / "ud810-validation-runs" / f"{run_name(name, setting)}-{first}-to-{second}-seed{seed}"
                if run_dir.exists():
                    shutil.rmtree(run_dir)
                sets = [f"model.name={name}", "train.progress=false", f"seed={seed}", "data.val_fraction=0"]
                train(load_config(None, [*sets, *overrides], values={"data.store": str(view)}), run_dir, verbose=False)
                result, _ = evaluate_run(run_dir, split="test", force=True)
                per_pair[(first, second)].append(result.classification.top1)
        means = {pair: sum(v) / len(v) for pair, v in per_pair.items()}
        mean = sum(means.values()) / len(means)
        folds = ", ".join(
            f"without {p}: {sum(m for (a, b), m in means.items() if p not in (a, b)) / 2:.3f}" for p in stores
        )
        results.add(
            "Accuracy: real ud810 clips, validation inside the folds",
            f"{name}{setting} person-to-person validation top-1, mean of 6 pairs x {len(seeds)} seeds",
            mean,
            command=command + f" --models {name} --seeds {','.join(map(str, seeds))}",
            note=f"{folds}; trained on one person, scored on another; chance 0.33; {time.perf_counter() - start:.0f} s",
        )
        out[name] = mean
    return out


def measure(
    results: Results,
    folder: Path | None,
    models: list[str],
    overrides: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (0,),
) -> dict[str, float]:
    command, setting = with_settings(COMMAND, overrides)
    if folder is None or not folder.is_dir():
        for name in models:
            results.add(
                "Accuracy: real ud810 clips",
                f"{name}{setting} leave-one-person-out",
                "not run",
                command=command,
                note="no ud810 folder (pass it as an argument)",
            )
        return {}
    from wherewhen.evaluate.runner import evaluate_run
    from wherewhen.train import load_config, train

    stores = fold_stores(folder)
    out = {}
    for name in models:
        per_seed, start = [], time.perf_counter()
        for seed in seeds:
            accuracies = []
            for person, store in stores:
                run_dir = WORK / "ud810-runs" / f"{run_name(name, setting)}-{person}-seed{seed}"
                if run_dir.exists():  # an earlier run's: train afresh
                    shutil.rmtree(run_dir)
                sets = [f"model.name={name}", "train.progress=false", f"seed={seed}", *overrides]
                train(load_config(None, sets, values={"data.store": str(store)}), run_dir, verbose=False)
                result, _ = evaluate_run(run_dir, split="test", force=True)
                accuracies.append(result.classification.top1)
            per_seed.append(sum(accuracies) / len(accuracies))
        mean = sum(per_seed) / len(per_seed)
        spread = ", ".join(f"seed {s}: {a:.3f}" for s, a in zip(seeds, per_seed, strict=True))
        several = len(seeds) > 1
        results.add(
            "Accuracy: real ud810 clips",
            f"{name}{setting} leave-one-person-out video top-1" + (f", mean of {len(seeds)} seeds" if several else ""),
            mean,
            target=">= 0.96" if name == default_model() and not overrides else "",
            command=command + (f" --models {name} --seeds {','.join(map(str, seeds))}" if several else ""),
            note=f"{spread}; mean of the three folds; chance 0.33; {time.perf_counter() - start:.0f} s",
        )
        out[name] = mean
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path, default=None)
    parser.add_argument("--models", default="attention_pool,softmax_cube,lstm_avg,tsn,alstm,stam")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds; the figure is their mean")
    parser.add_argument("--validation", action="store_true", help="person-to-person accuracy inside the folds")
    add_set_option(parser)
    args = parser.parse_args()
    results = Results()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    folder = args.folder or default_folder()
    if args.validation:
        if folder is None:
            raise SystemExit("no ud810 folder: pass it as an argument")
        validate(results, folder, args.models.split(","), tuple(args.overrides), seeds)
    else:
        measure(results, folder, args.models.split(","), tuple(args.overrides), seeds)
    results.write(Path(__file__).resolve().parent)
