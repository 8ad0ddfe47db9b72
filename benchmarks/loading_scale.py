"""Data loading at UCF101 scale: 13,320 feature files of the default shape, one epoch streamed.

    python -m benchmarks.loading_scale [--videos 13320] [--workers 2]

Writes (once, under benchmarks/_work/ucf101-scale) 13,320 float16 cubes of (16, 1280, 7, 7) through the feature
store (2 MB each, 26.7 GB), then streams one training epoch through the engine's ClipDataset and DataLoader,
measuring clips/s and the peak resident memory of the process and its workers. The loader is not the bottleneck
when it delivers clips faster than training consumes them (compare with benchmarks.training_speed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from benchmarks.common import WORK
from benchmarks.results import Results
from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo
from wherewhen.memory import pin_mmap_threshold
from wherewhen.train.data import ClipDataset, collate

COMMAND = "python -m benchmarks.loading_scale"
UCF101_VIDEOS = 13_320


def make_store(root: Path, videos: int, classes: int = 101) -> FeatureStore:
    info = StoreInfo(
        "efficientnet_lite0",
        224,
        7,
        1280,
        {"strategy": "uniform", "frames": 16, "resize": 224},
        classes=[f"class{c:03d}" for c in range(classes)],
    )
    store = FeatureStore.create(root, info)
    generator = torch.Generator().manual_seed(0)
    for i in tqdm(range(videos), desc="write UCF101-scale store", unit="file"):
        video_id = f"v{i:05d}"
        if store.is_done(video_id):
            continue
        record = FeatureRecord(
            video_id,
            f"{video_id}.avi",
            info.classes[i % classes],
            "train",
            f"g{i // 40}",
            list(range(0, 160, 10)),
            [list(range(16))],
            25.0,
            160,
            6.4,
            (320, 240),
            (40.0, 0.0, 240.0, 240.0),
        )
        cube = torch.randn(16, 1280, 7, 7, generator=generator).abs_().to(torch.float16)
        store.write(record, cube)
    store.write_manifest()
    return store


def peak_rss_mb() -> tuple[float, float]:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, children_kb / 1024


def measure(results: Results, videos: int = UCF101_VIDEOS, workers: int = 2, batch_size: int = 16) -> dict:
    """Stream the epoch in a fresh process: peak RSS is a lifetime figure, so other benchmarks run earlier in the
    same process (`make bench`) must not count."""
    make_store(WORK / "ucf101-scale", videos)
    command = [sys.executable, "-m", "benchmarks.loading_scale", "--videos", str(videos), "--workers", str(workers)]
    done = subprocess.run([*command, "--stream-only"], check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    clips_per_s, seconds, main_mb, worker_mb = (figures[k] for k in ("clips_per_s", "seconds", "main_mb", "worker_mb"))
    results.add(
        "Data loading",
        f"one epoch of {videos} files",
        clips_per_s,
        "clips/s",
        command=COMMAND,
        note=f"{workers} workers, batch {batch_size}, {seconds:.0f} s",
    )
    results.add("Data loading", "peak RSS, main process", main_mb, "MB", target="<= 2048 MB", command=COMMAND)
    results.add("Data loading", "peak RSS, largest worker", worker_mb, "MB", target="<= 2048 MB", command=COMMAND)
    return figures


def stream(videos: int, workers: int, batch_size: int = 16) -> dict:
    store = make_store(WORK / "ucf101-scale", videos)
    records = store.records()
    dataset = ClipDataset(store, records, store.info.classes, 16, train=True)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
        worker_init_fn=pin_mmap_threshold,
    )
    start = time.perf_counter()
    clips = 0
    for batch in tqdm(loader, desc="stream one epoch", unit="batch", disable=None):
        clips += len(batch["label"])
    seconds = time.perf_counter() - start
    main_mb, worker_mb = peak_rss_mb()
    return {"clips_per_s": clips / seconds, "seconds": seconds, "main_mb": main_mb, "worker_mb": worker_mb}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=UCF101_VIDEOS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stream-only", action="store_true", help="stream one epoch here; print its figures as JSON")
    args = parser.parse_args()
    if args.stream_only:
        print(json.dumps(stream(args.videos, args.workers)))
    else:
        measure(Results(), args.videos, args.workers)
