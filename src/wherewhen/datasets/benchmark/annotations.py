"""The benchmark's annotation files, in the layouts the real-dataset readers parse.

* ``classInd.txt``, ``trainlist01.txt``, ``testlist01.txt``: UCF101 split files (CRLF line endings);
* ``annotations/thumos14/<Class>_{val,test}.txt``: THUMOS'14 temporal segments ``<stem> <start_s> <end_s>``
  (``val`` holds the train videos, ``test`` the test videos, as in THUMOS'14);
* ``annotations/ucf101_24/pyannot.pkl``: UCF101-24 tubes, pickle protocol 2:
  ``{"Class/stem": {"numf", "label" (0-based), "annotations": [{"sf", "ef", "label", "boxes" uint16 (ef-sf, 4)}]}}``
  with boxes ``x, y, w, h`` in pixels and frames half-open ``[sf, ef)``.

Every file is written atomically and its bytes depend only on the plans, so the same config and seed give
byte-identical files.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

from wherewhen.atomic import atomic_path, atomic_write_text
from wherewhen.datasets.benchmark.config import GENERATOR_VERSION, PRESETS, BenchmarkConfig
from wherewhen.datasets.benchmark.plan import VideoPlan
from wherewhen.datasets.benchmark.sources import class_names

BENCHMARK_JSON = "benchmark.json"
THUMOS_DIR = Path("annotations") / "thumos14"
UCF24_PICKLE = Path("annotations") / "ucf101_24" / "pyannot.pkl"
VIDEOS_DIR = "videos"


def video_relpath(plan: VideoPlan) -> str:
    """Path of the video relative to ``ROOT/videos``, as the split files name it."""
    return f"{plan.class_name}/{plan.stem}.mp4"


def _crlf(lines: list[str]) -> str:
    return "".join(f"{line}\r\n" for line in lines)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def seconds(frame: int, fps: int) -> str:
    """A frame boundary in seconds, with enough digits that ``round(s * fps)`` gives the frame back."""
    return f"{frame / fps:.3f}"


def benchmark_metadata(config: BenchmarkConfig, plans: list[VideoPlan]) -> dict[str, Any]:
    preset = next((name for name, p in PRESETS.items() if p == config), None)
    return {
        "generator_version": GENERATOR_VERSION,
        "preset": preset,
        "frame_size": [config.width, config.height],
        "fps": config.fps,
        "num_frames": config.frames,
        "seed": config.seed,
        "classes": class_names(config.classes),
        "videos": len(plans),
        "splits": {s: sum(p.split == s for p in plans) for s in ("train", "test")},
        "config": config.to_dict(),
    }


def write_annotations(root: Path, config: BenchmarkConfig, plans: list[VideoPlan]) -> None:
    """Write every annotation file; ``benchmark.json`` last, so its presence means the benchmark is complete."""
    names = class_names(config.classes)
    plans = sorted(plans, key=lambda p: (p.label, p.video_index))

    atomic_write_text(root / "classInd.txt", _crlf([f"{i + 1} {name}" for i, name in enumerate(names)]))
    train = [f"{video_relpath(p)} {p.label + 1}" for p in plans if p.split == "train"]
    test = [video_relpath(p) for p in plans if p.split == "test"]
    atomic_write_text(root / "trainlist01.txt", _crlf(train))
    atomic_write_text(root / "testlist01.txt", _crlf(test))

    for label, name in enumerate(names):
        for split, suffix in (("train", "val"), ("test", "test")):
            rows = [
                f"{p.stem} {seconds(p.segment[0], config.fps)} {seconds(p.segment[1], config.fps)}"
                for p in plans
                if p.label == label and p.split == split
            ]
            atomic_write_text(root / THUMOS_DIR / f"{name}_{suffix}.txt", "".join(f"{r}\n" for r in rows))

    tubes = {
        f"{p.class_name}/{p.stem}": {
            "numf": config.frames,
            "label": p.label,
            "annotations": [{"sf": p.segment[0], "ef": p.segment[1], "label": p.label, "boxes": p.boxes()}],
        }
        for p in plans
    }
    buffer = io.BytesIO()
    pickle.dump(tubes, buffer, protocol=2)
    _write_bytes(root / UCF24_PICKLE, buffer.getvalue())

    metadata = benchmark_metadata(config, plans)
    atomic_write_text(root / BENCHMARK_JSON, json.dumps(metadata, indent=2) + "\n")
