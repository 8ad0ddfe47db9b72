"""Model head vs backbone time for one clip of 16 frames (target: every head <= 5 % of the backbone).

    python -m benchmarks.head_speed [--head-threads N]

Both are timed in the same run on the same machine: the backbone's forward over 16 uint8 frames (224 px) and each
registered model's forward over the resulting (1, 16, D, 7, 7) cube, in eval mode, best of several repeats. Both
use torch's default thread count unless --head-threads sets the heads' own (e.g. 1 on a box shared with other
jobs, where handing a head's many small steps between threads can cost more than it saves).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from benchmarks.results import Results
from wherewhen.backbones import load_backbone
from wherewhen.models import available_models, build_model, model_class

COMMAND = "python -m benchmarks.head_speed"


def best_time(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@contextmanager
def intra_op_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` inside the block (unchanged for None)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count:
            torch.set_num_threads(before)


@torch.inference_mode()
def measure(results: Results, frames: int = 16, classes: int = 5, head_threads: int | None = None) -> dict[str, float]:
    """Fills ``results`` with the backbone's time, each head's time and its ratio; returns {model: head/backbone}."""
    command = COMMAND + (f" --head-threads {head_threads}" if head_threads else "")
    backbone = load_backbone()
    spec = backbone.spec
    clip = torch.randint(0, 255, (frames, spec.input_size, spec.input_size, 3), dtype=torch.uint8)
    threads = torch.get_num_threads()
    backbone_s = best_time(lambda: backbone(clip), repeats=5)
    note = f"{threads} threads" + (f", heads {head_threads}" if head_threads else "")
    results.add("Speed", f"backbone, {frames} frames", backbone_s * 1000, "ms", command=command, note=note)
    cubes = backbone(clip)[None].float()
    ratios = {}
    for name in available_models():
        if not model_class(name).__module__.startswith("wherewhen.models."):
            continue
        model = build_model(name, num_classes=classes, in_channels=spec.channels, grid=spec.grid).eval()
        flow = cubes if model.uses_flow else None
        with intra_op_threads(head_threads):
            head_s = best_time(lambda model=model, flow=flow: model(cubes, flow))
        ratios[name] = head_s / backbone_s
        # motion_alstm's flow cubes come from a second backbone pass; that cost is the backbone's, not the head's.
        results.add("Speed", f"head {name}, {frames} frames", head_s * 1000, "ms", command=command, note=note)
        results.add("Speed", f"head {name} / backbone", 100 * ratios[name], "%", target="<= 5 %", command=command)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument(
        "--head-threads", type=int, default=None, help="intra-op threads for the heads (default: as the backbone)"
    )
    args = parser.parse_args()
    measure(Results(), frames=args.frames, head_threads=args.head_threads)


if __name__ == "__main__":
    main()
