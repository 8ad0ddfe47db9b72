"""``generate_benchmark(root, config)``: render every planned video to H.264 MP4, then write the annotations.

A killed run resumes: each video appears under its final name only once complete (temporary name, then rename),
a re-run skips the videos already there, and the annotation files (``benchmark.json`` last) are written at the end.
A folder holding a benchmark made with other settings is refused rather than mixed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from wherewhen.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from wherewhen.datasets.benchmark.annotations import BENCHMARK_JSON, VIDEOS_DIR, video_relpath, write_annotations
from wherewhen.datasets.benchmark.config import GENERATOR_VERSION, BenchmarkConfig
from wherewhen.datasets.benchmark.plan import VideoPlan, plan_video, split_of
from wherewhen.datasets.benchmark.render import render_frames
from wherewhen.datasets.benchmark.sources import class_names
from wherewhen.errors import DatasetError, VideoError

IN_PROGRESS = ".generating.json"  # the settings of an unfinished generation, so a resume cannot mix two
Progress = Callable[[int, int], None]  # (videos done, videos in all)


@dataclass(frozen=True)
class BenchmarkSummary:
    root: Path
    classes: list[str]
    videos: int
    generated: int  # rendered by this call
    skipped: int  # already there from an earlier (perhaps killed) run
    train: int
    test: int
    seconds: float


def plan_benchmark(config: BenchmarkConfig) -> list[VideoPlan]:
    """Plans of every video, class by class (cheap: no pixels)."""
    plans = []
    for label in range(config.classes):
        splits = split_of(config, label)
        plans.extend(plan_video(config, label, i, splits[i]) for i in range(config.videos_per_class))
    return plans


def write_video(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: int, crf: int) -> None:
    """Encode RGB frames to H.264 (yuv420p) MP4 with fixed, single-threaded settings: same frames, same bytes.

    x264's macroblock-tree rate control is off: with it, small frames (96 or 160 pixels) encode to different
    bytes from run to run in one process (it reads memory it never wrote), so decoded frames would differ.
    """
    with atomic_path(path) as tmp:
        try:
            with av.open(str(tmp), mode="w", format="mp4") as container:
                stream = container.add_stream("libx264", rate=fps)
                stream.width, stream.height = size
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}
                stream.codec_context.thread_count = 1
                for rgb in frames:
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                container.mux(stream.encode(None))
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"cannot encode the benchmark video: {exc}") from None


def render_video(config: BenchmarkConfig, label: int, video_index: int, path: str) -> str:
    """Render and encode one video (runs in a worker process)."""
    plan = plan_video(config, label, video_index)
    write_video(Path(path), render_frames(plan), (config.width, config.height), config.fps, config.crf)
    return path


def _settings(config: BenchmarkConfig) -> dict[str, Any]:
    return {"generator_version": GENERATOR_VERSION, "config": config.to_dict()}


def _refuse_other_settings(root: Path, config: BenchmarkConfig) -> None:
    wanted = _settings(config)
    for name in (BENCHMARK_JSON, IN_PROGRESS):
        path = root / name
        if not path.is_file():
            continue
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(path, f"unreadable ({exc}); delete the folder or choose another") from None
        have = {"generator_version": found.get("generator_version"), "config": found.get("config")}
        if have != wanted:
            mine, theirs = wanted["config"], have["config"] or {}
            diff = [f"{k}={theirs.get(k)} there, {v} asked" for k, v in mine.items() if theirs.get(k) != v]
            if have["generator_version"] != wanted["generator_version"]:
                diff.insert(0, f"generator {have['generator_version']} there, {GENERATOR_VERSION} now")
            raise DatasetError(
                path, f"holds a benchmark made with other settings ({'; '.join(diff)}); choose another folder"
            )


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def main_is_importable() -> bool:
    """Whether "spawn" worker processes can start: they re-run the main script from its file, which a script read
    from standard input (``python - < script.py``: ``__file__`` is "<stdin>") does not have. Without it the
    videos are rendered in this process."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or Path(path).is_file()


def generate_benchmark(
    root: str | Path,
    config: BenchmarkConfig,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> BenchmarkSummary:
    """Generate the benchmark ``config`` under ``root`` (see docs/benchmark.md for the layout); resumes if killed.

    workers: processes that render and encode (default: the CPU count, at most 8); 1 renders in this process.
    progress: called with (videos done, videos in all) after each video, including the ones skipped.
    """
    started = time.perf_counter()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _refuse_other_settings(root, config)
    atomic_write_text(root / IN_PROGRESS, json.dumps(_settings(config), indent=2) + "\n")

    plans = plan_benchmark(config)
    videos = root / VIDEOS_DIR
    remove_stale_temporaries(root, older_than_s=0.0)  # what a killed run left; one run writes a folder at a time
    todo = [p for p in plans if not (videos / video_relpath(p)).is_file()]
    skipped = len(plans) - len(todo)
    done = skipped
    if progress is not None:
        progress(done, len(plans))

    jobs = [(p.label, p.video_index, str(videos / video_relpath(p))) for p in todo]
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(jobs) <= 1 or not main_is_importable():
        for label, index, path in jobs:
            render_video(config, label, index, path)
            done += 1
            if progress is not None:
                progress(done, len(plans))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            futures = [pool.submit(render_video, config, *job) for job in jobs]
            for future in as_completed(futures):
                future.result()
                done += 1
                if progress is not None:
                    progress(done, len(plans))

    write_annotations(root, config, plans)
    (root / IN_PROGRESS).unlink(missing_ok=True)
    return BenchmarkSummary(
        root=root,
        classes=class_names(config.classes),
        videos=len(plans),
        generated=len(todo),
        skipped=skipped,
        train=sum(p.split == "train" for p in plans),
        test=sum(p.split == "test" for p in plans),
        seconds=time.perf_counter() - started,
    )
