"""Shared pieces of the benchmarks: the embedded benchmark's feature store, made once under benchmarks/_work/."""

from __future__ import annotations

import time
from pathlib import Path

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


class Stopwatch:
    def __init__(self) -> None:
        self.total = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.total += time.perf_counter() - self.start
