"""Shared pieces of the benchmarks: the embedded benchmark's feature store, made once under benchmarks/_work/, views
of a store, and the command-line pieces several benchmarks take (``--set`` overrides, one-line errors)."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wherewhen.features.store import FeatureRecord, FeatureStore

WORK = Path(__file__).resolve().parent / "_work"


def shared_data() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def embedded_store(preset: str = "default") -> Path:
    """Generate the embedded benchmark and extract its cubes, with DIS flow cubes for the motion-attention model
    (both steps resume; a second call costs nothing)."""
    from wherewhen.datasets.benchmark import generate_benchmark
    from wherewhen.datasets.benchmark import preset as benchmark_preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.features.store import drop_stale_store

    root, store = WORK / f"embedded-{preset}", WORK / f"embedded-{preset}-features"
    generate_benchmark(root, benchmark_preset(preset))
    index = read_dataset("embedded", root)
    drop_stale_store(store)
    extract_videos(index.records, store, ExtractOptions(flow="dis"), classes=index.classes)
    return store


def linked_view(source: FeatureStore, records: Iterable[FeatureRecord], out: Path) -> Path:
    """A store at ``out`` (replaced if there) holding ``records``, which may carry other splits than in ``source``,
    as links to ``source``'s cube files."""
    if out.exists():
        shutil.rmtree(out)
    (out / "features").mkdir(parents=True)
    shutil.copy(source.info_path, out / "store.json")
    kept = sorted(records, key=lambda r: r.video_id)  # the order FeatureStore.write_manifest writes
    for record in kept:
        path = source.path_for(record.video_id)
        os.symlink(path.resolve(), out / "features" / path.name)
    (out / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in kept), encoding="utf-8")
    return out


class Stopwatch:
    def __init__(self) -> None:
        self.total = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.total += time.perf_counter() - self.start


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): training overrides, as ``wherewhen train --set`` takes them."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="training override"
    )


def with_settings(command: str, overrides: tuple[str, ...]) -> tuple[str, str]:
    """(the command that gives a figure, with its ``--set`` options; the settings to name in the figure's row)."""
    return " ".join([command, *(f"--set {o}" for o in overrides)]), "".join(f" {o}" for o in overrides)


def run_or_exit(parser: argparse.ArgumentParser, measure: Callable[[], object]) -> None:
    """``measure()``, with a wrong path or setting (a WherewhenError) as one line and exit status 2."""
    from wherewhen.errors import WherewhenError

    try:
        measure()
    except WherewhenError as exc:
        parser.exit(2, f"error: {exc}\n")
