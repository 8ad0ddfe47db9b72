"""The embedded where-and-when benchmark: seeded MP4 videos with exact ground truth for where and when.

``generate_benchmark(root, preset("default"))`` writes the videos and their annotations in the layouts of UCF101
(split files), THUMOS'14 (temporal segments) and UCF101-24 (per-frame boxes). docs/benchmark.md explains the design.
"""

from wherewhen.datasets.benchmark.config import GENERATOR_VERSION, PRESETS, BenchmarkConfig, preset
from wherewhen.datasets.benchmark.generate import BenchmarkSummary, generate_benchmark, plan_benchmark
from wherewhen.datasets.benchmark.plan import VideoPlan, plan_video
from wherewhen.datasets.benchmark.render import render_frames
from wherewhen.datasets.benchmark.sources import CLASS_SOURCES, class_names

__all__ = [
    "CLASS_SOURCES",
    "GENERATOR_VERSION",
    "PRESETS",
    "BenchmarkConfig",
    "BenchmarkSummary",
    "VideoPlan",
    "class_names",
    "generate_benchmark",
    "plan_benchmark",
    "plan_video",
    "preset",
    "render_frames",
]
