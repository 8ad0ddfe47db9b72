"""Model head vs backbone time for one clip of 16 frames (target: every head <= 5 % of the backbone).

    python -m benchmarks.head_speed [--threads N] [--head-threads N] [--cpu-time]

Both are timed in the same run on the same machine, in turn (rounds of: the backbone once, then every head): the
backbone over 16 uint8 frames (224 px) as extraction and ``explain`` run it (``features.forward.embed_frames``:
passes of 2 frames side by side on CPU), and each registered model's forward over the resulting (1, 16, D, 7, 7)
cube, in eval mode, with torch's default thread count. Printed: the best times, their ratio, and the median of the
per-round ratios. On a machine shared with other jobs the wall-clock figures mostly measure waiting
for a core (and a head's many small steps wait more often than the backbone's few big ones); there
``--threads 1 --cpu-time`` times both on one thread in process CPU time, which leaves the waiting out.
``--head-threads`` gives the heads their own thread count.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.results import Results
from wherewhen.backbones import load_backbone
from wherewhen.features.forward import embed_frames
from wherewhen.models import available_models, build_model, model_class

COMMAND = "python -m benchmarks.head_speed"
# documented cheaper settings, timed beside the defaults (docs/models.md)
OPTIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("stam", {"input_conv": "separable"}),
    ("stam", {"separable": True}),
    ("convlstm", {"separable": True}),
    ("conv_alstm", {"separable": True}),
    ("motion_alstm", {"separable": True}),
)


def best_time(
    fn: Callable[[], object], repeats: int = 7, clock: Callable[[], float] = time.perf_counter, warmup: int = 3
) -> float:
    for _ in range(warmup):  # oneDNN picks and caches kernels over the first calls; one warm-up left the backbone slow
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def gflop(model: torch.nn.Module, cubes: torch.Tensor, flow: torch.Tensor | None) -> float:
    """The multiply-adds (x2) of one forward, as ``torch.utils.flop_counter`` counts them. Call it outside inference
    mode: the counter's module tracker hooks autograd's graph (so the cubes go in as ordinary copies)."""
    with FlopCounterMode(display=False) as counter:
        model(cubes.clone(), None if flow is None else flow.clone())
    return counter.get_total_flops() / 1e9


def matrix_product(rows: int, depth: int, columns: int) -> tuple[Callable[[], object], float]:
    """A dense float32 product of the given shape and its GFLOP: the machine's rate for work like the heads'."""
    a, b = torch.rand(rows, depth), torch.rand(depth, columns)
    return (lambda: torch.mm(a, b)), 2 * rows * depth * columns / 1e9


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


def measure(
    results: Results,
    frames: int = 16,
    classes: int = 5,
    *,
    threads: int | None = None,
    head_threads: int | None = None,
    cpu_time: bool = False,
    rounds: int = 7,
) -> dict[str, float]:
    """Fills ``results`` with the backbone's time, each head's time and its ratio; returns {model: head/backbone}.

    The backbone and the heads are timed in turn, ``rounds`` times (a round: the backbone once, then each head's
    best of 3 calls), so every ratio compares the two under the same machine state. Reported: each one's best over
    the rounds, the ratio of those, and the median of the per-round ratios (the steadier figure on a shared machine).
    """
    options = [f"--threads {threads}"] * bool(threads) + [f"--head-threads {head_threads}"] * bool(head_threads)
    command = " ".join([COMMAND, *options, *["--cpu-time"] * cpu_time])
    clock = time.process_time if cpu_time else time.perf_counter
    backbone = load_backbone()
    spec = backbone.spec
    clip = torch.randint(0, 255, (frames, spec.input_size, spec.input_size, 3), dtype=torch.uint8)
    with intra_op_threads(threads), torch.inference_mode():
        used = torch.get_num_threads()
        cubes = embed_frames(backbone, [clip], 64)[0][None].float()
    builtin = [name for name in available_models() if model_class(name).__module__.startswith("wherewhen.models.")]
    heads = {}
    flops: dict[str, float] = {}
    for name, settings in [*((name, {}) for name in builtin), *OPTIONS]:
        model = build_model(name, num_classes=classes, in_channels=spec.channels, grid=spec.grid, **settings).eval()
        label = " ".join([name, *(f"{k}={v}" for k, v in settings.items())])
        # motion_alstm's flow cubes come from a second backbone pass; that cost is the backbone's, not the head's
        heads[label] = (model, cubes if model.uses_flow else None)
        flops[label] = gflop(model, cubes, heads[label][1])

    def embed_once() -> object:
        with intra_op_threads(threads), torch.inference_mode():
            return embed_frames(backbone, [clip], 64)

    def run_head(name: str) -> object:
        model, flow = heads[name]
        with intra_op_threads(head_threads or threads), torch.inference_mode():
            return model(cubes, flow)

    # the 1x1 reduction's shape (every cell of every frame, D -> 128): the fastest kind of work a head does
    product, product_gflop = matrix_product(frames * spec.grid * spec.grid, spec.channels, 128)
    backbone_s: list[float] = []
    product_s: list[float] = []
    head_s: dict[str, list[float]] = {name: [] for name in heads}
    for _ in range(3):  # oneDNN picks and caches kernels over the first calls; one warm-up left the backbone slow
        embed_once()
        for name in heads:
            run_head(name)
    for _ in range(rounds):
        backbone_s.append(best_time(embed_once, repeats=1, warmup=0, clock=clock))
        for name in heads:
            head_s[name].append(best_time(lambda name=name: run_head(name), repeats=3, warmup=0, clock=clock))
        with intra_op_threads(head_threads or threads):
            product_s.append(best_time(product, repeats=3, warmup=1, clock=clock))
    note = f"{used} threads" + (f", heads {head_threads}" if head_threads else "") + (", CPU time" if cpu_time else "")
    note += f", best of {rounds} rounds"
    results.add("Speed", f"backbone, {frames} frames", min(backbone_s) * 1000, "ms", command=command, note=note)
    rate = product_gflop / min(product_s)
    results.add("Speed", "matrix product rate", rate, "GFLOP/s", command=command, note=f"{note}; the reduction's shape")
    ratios = {}
    for name, times in head_s.items():
        ratios[name] = min(times) / min(backbone_s)
        paired = statistics.median(h / b for h, b in zip(times, backbone_s, strict=True))
        # what the head's FLOPs alone would take at the matrix-product rate: the floor for code that only
        # made its operations faster, without changing the model
        floor = 100 * flops[name] / rate / min(backbone_s)
        speed = f"{flops[name]:.2f} GFLOP, {flops[name] / min(times):.0f} GFLOP/s; at the product rate {floor:.1f} %"
        results.add("Speed", f"head {name}, {frames} frames", min(times) * 1000, "ms", command=command, note=note)
        results.add(
            "Speed", f"head {name} / backbone", 100 * ratios[name], "%", target="<= 5 %", command=command, note=speed
        )
        results.add("Speed", f"head {name} / backbone, median of rounds", 100 * paired, "%", command=command)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads for both (default: torch's)")
    parser.add_argument("--head-threads", type=int, default=None, help="intra-op threads for the heads only")
    parser.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = parser.parse_args()
    measure(Results(), frames=args.frames, threads=args.threads, head_threads=args.head_threads, cpu_time=args.cpu_time)


if __name__ == "__main__":
    main()
