"""`make bench`: every figure behind the README, written to benchmarks/RESULTS.md and benchmarks/results.json.

    python -m benchmarks.run [--ud810 FOLDER] [--skip SECTION ...] [--only SECTION ...]

Sections: accuracy (every model on the embedded benchmark for three seeds, beside the supervised ceiling and the
floor; leave-one-person-out on the real ud810 clips), speed (extraction vs backbone-only, explain vs decode +
backbone, model head vs backbone), explain's peak memory and time on a long video at 1x and 4x its length
(``long``), training throughput, and data loading at UCF101 scale. Two longer sections run only when ``--only``
names them: ``generalization`` (the default model on another draw, the `full` preset and 200
videos per class) and ``curves`` (learning curves over the size of the train split). Slow figures live here, never
in the tests. Work files go to benchmarks/_work/.
"""

from __future__ import annotations

import argparse
from functools import cache
from pathlib import Path

from benchmarks import (
    extraction_speed,
    generalization,
    head_speed,
    learning_curves,
    loading_scale,
    long_video_memory,
    training_speed,
    ud810_accuracy,
)
from benchmarks.common import embedded_store
from benchmarks.results import Results

SECTIONS = ("accuracy", "ud810", "extraction", "explain", "long", "heads", "training", "loading")
LONG = ("generalization", "curves")  # hours on two cores: only with --only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ud810", type=Path, default=None, help="folder of the ud810 clips (default: ../shared/...)")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS + LONG)
    parser.add_argument(
        "--only", nargs="*", default=None, choices=SECTIONS + LONG, help="run only these; other figures stay"
    )
    args = parser.parse_args()
    args.skip = [*args.skip, *LONG]
    if args.only is not None:
        args.skip = [s for s in SECTIONS + LONG if s not in args.only]
    results = Results()
    store = cache(embedded_store)  # only the sections that train on it generate and extract it
    here = Path(__file__).resolve().parent

    def accuracy() -> None:
        from benchmarks import attention_check

        attention_check.run(store(), results=results)

    def ud810() -> None:
        from wherewhen.models import available_models

        folder = args.ud810 or ud810_accuracy.default_folder()
        default = ud810_accuracy.default_model()
        ud810_accuracy.measure(results, folder, [default], seeds=(0, 1, 2))
        # the same model on RGB alone: what the flow cubes of these stores add
        ud810_accuracy.measure(results, folder, [default], ("model.flow=false",), seeds=(0, 1, 2))
        ud810_accuracy.measure(results, folder, [m for m in available_models() if m != default])

    def explain() -> None:
        from benchmarks import explain_speed

        explain_speed.measure(results)

    # heads first of the speed figures: after the extraction and explain benchmarks (their worker processes and
    # OpenCV's thread pool) the tiny per-step kernels of the recurrent heads measured up to 1.5x slower on 2 cores
    steps = {
        "accuracy": accuracy,
        "ud810": ud810,
        "heads": lambda: head_speed.measure(results),
        "extraction": lambda: extraction_speed.measure(extraction_speed.default_videos(), results),
        "explain": explain,
        "long": lambda: long_video_memory.measure(2000, None, results),
        "training": lambda: training_speed.measure(store(), results),
        "loading": lambda: loading_scale.measure(results),
        "generalization": lambda: generalization.measure(results, list(generalization.SETTINGS), (0, 1, 2)),
        "curves": lambda: learning_curves.measure(results),
    }
    written = None
    for section, step in steps.items():
        if section not in args.skip:
            step()
            written = results.write(here)  # after every section: a later failure keeps what was measured
    if written is None:
        written = results.write(here)
    print(f"wrote {written[0]} and {written[1]}")


if __name__ == "__main__":
    main()
