"""`wherewhen extract`: videos -> cached feature cubes (resumable, sharded, with a summary of failures).

Two forms of input: video files, folders and list files as arguments, or ``--dataset FORMAT --root DIR``. One
folder as the argument also takes the ``folder`` format's options (``--split``, ``--label-pattern``, ...); an option
that the chosen form, sampling or device does not use is refused, never ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wherewhen.cli import _dataset_flags as flags
from wherewhen.cli._given import given, refuse
from wherewhen.datasets.records import DatasetIndex
from wherewhen.errors import ConfigError
from wherewhen.wording import count

if TYPE_CHECKING:
    from wherewhen.features.extract import ExtractSummary
    from wherewhen.video.sampling import SamplingSpec

# Sampling options and the strategies that read them.
SAMPLING_USES = {
    "frames": ("uniform", "tsn", "sliding"),
    "rate": ("fps", "sliding"),
    "stride": ("sliding",),
    "max_frames": ("fps",),
    "tsn_train": ("tsn",),
}
FOLDER_OPTIONS = ("split", "label_pattern", "group_pattern", "test_fraction", "val_fraction", "seed")
DATASET_ONLY = ("root", "splits", "annotations", "classes", "video_template")


def dataset_index(
    ctx: typer.Context, inputs: list[Path], dataset: str | None, root: Path | None, split: str, options: dict[str, Any]
) -> DatasetIndex:
    """The videos to extract, from whichever form of input was given; options of the other form are refused."""
    from wherewhen.datasets.inputs import records_from_inputs
    from wherewhen.datasets.registry import read_dataset

    if dataset:
        if inputs:
            raise ConfigError("give videos, folders or list files, or --dataset FORMAT --root DIR; not both")
        if root is None:
            raise ConfigError("--dataset needs --root DIR")
        return read_dataset(dataset, root, split, **options)
    refuse(given(ctx, *DATASET_ONLY), "used with --dataset FORMAT --root DIR (see `wherewhen data list`)")
    folder_flags = given(ctx, *FOLDER_OPTIONS)
    if folder_flags and len(inputs) == 1 and inputs[0].expanduser().is_dir():
        return read_dataset("folder", inputs[0], split, **{k: options[k] for k in FOLDER_OPTIONS if k in options})
    refuse(
        folder_flags,
        "used with one folder of videos (`wherewhen extract FOLDER`) or with --dataset FORMAT --root DIR, "
        "not with video files, list files or several inputs",
    )
    return records_from_inputs(inputs)


def sampling_spec(ctx: typer.Context, strategy: str, **values: Any) -> SamplingSpec:
    """The sampling asked for; options that ``strategy`` does not read are refused."""
    from wherewhen.video.sampling import SamplingSpec

    spec = SamplingSpec(strategy, **values)  # an unknown strategy is its error
    for name, uses in SAMPLING_USES.items():
        if strategy not in uses:
            strategies = " or ".join([", ".join(uses[:-1]), uses[-1]] if len(uses) > 1 else uses)
            refuse(given(ctx, name), f"used by --sampling {strategies}, not by --sampling {strategy}")
    return spec


def backbone_device(ctx: typer.Context, device: str | None) -> str:
    """The device the backbone runs on; --batch-size is refused on the CPU, where it does not apply."""
    from wherewhen.device import resolve_device

    chosen = resolve_device(device or "auto", int(os.environ.get("LOCAL_RANK", "0")), option="--device")
    if chosen.type == "cpu":
        refuse(given(ctx, "batch_size"), "used on CUDA only: on the CPU every pass is 2 frames of one video")
    return str(chosen)


def print_summary(summary: ExtractSummary, not_videos: list[tuple[Path, str]]) -> None:
    """The counts on standard output; the failures, one line each, on standard error (exit status 1). Paths the
    dataset's folders hold where videos should be but that are not video files (``not_videos``) count as failed."""
    failed = [f"{path}: {why}" for path, why in not_videos] + [error for _, error in summary.failed]
    typer.echo(
        f"{summary.written} written, {summary.skipped} already done, {len(failed)} failed "
        f"of {count(summary.total + len(not_videos), 'video')} in {summary.seconds:.1f} s "
        f"({summary.videos_per_second:.2f} videos/s, {summary.frames_per_second:.1f} frames/s) -> {summary.store}"
    )
    if failed:
        typer.echo(f"failed ({len(failed)}):", err=True)
        for error in failed:
            typer.echo(f"  {error}", err=True)
        raise SystemExit(1)


# The options of `wherewhen extract`.
Out = Annotated[Path, typer.Option("--out", "-o", help="feature store folder (created; re-runs resume)")]
Inputs = Annotated[list[Path] | None, typer.Argument(help="video files, folders (a folder per class) or list files")]
Backbone = Annotated[str, typer.Option("--backbone", "-b", help="see `wherewhen backbones`")]
Weights = Annotated[Path | None, typer.Option("--weights", help="backbone state dict (default: ImageNet's)")]
Sampling = Annotated[str, typer.Option("--sampling", help="uniform | tsn | fps | sliding")]
Frames = Annotated[int, typer.Option("--frames", "-t", help="frames per clip (uniform, tsn, sliding)")]
Rate = Annotated[float, typer.Option("--rate", help="frames per second (fps, sliding)")]
Stride = Annotated[int, typer.Option("--stride", help="rows between sliding windows")]
MaxFrames = Annotated[int, typer.Option("--max-frames", help="cap on frames per video (fps; 0: none)")]
TsnTrain = Annotated[bool, typer.Option("--tsn-random", help="tsn: a random frame per segment")]
Flow = Annotated[str | None, typer.Option("--flow", help="also write optical-flow cubes: dis | farneback")]
BatchSize = Annotated[
    int,
    typer.Option(
        "--batch-size", help="frames per backbone forward pass on CUDA (on CPU: 2 frames of a video per pass)"
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="decoding processes (default: on CPU a thread, on CUDA cores - 1)"),
]
Device = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: CUDA when present)")]
Shard = Annotated[str | None, typer.Option("--shard", help="INDEX/COUNT of the work (default: RANK/WORLD_SIZE)")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress")]


def extract(
    ctx: typer.Context,
    out: Out,
    inputs: Inputs = None,
    dataset: flags.Format = None,
    root: flags.Root = None,
    split: flags.Split = "1",
    splits: flags.Splits = None,
    annotations: flags.Annotations = None,
    classes: flags.Classes = None,
    label_pattern: flags.LabelPattern = None,
    group_pattern: flags.GroupPattern = None,
    test_fraction: flags.TestFraction = None,
    val_fraction: flags.ValFraction = None,
    seed: flags.Seed = None,
    video_template: flags.VideoTemplate = None,
    backbone: Backbone = "efficientnet_lite0",
    weights: Weights = None,
    sampling: Sampling = "uniform",
    frames: Frames = 16,
    rate: Rate = 2.0,
    stride: Stride = 8,
    max_frames: MaxFrames = 0,
    tsn_train: TsnTrain = False,
    flow: Flow = None,
    batch_size: BatchSize = 64,
    workers: Workers = None,
    device: Device = None,
    shard: Shard = None,
    progress: Progress = True,
) -> None:
    """Turn videos into float16 feature cubes (T, D, K, K), one file per video, plus a manifest.

    Finished videos are skipped on a re-run; failures are listed at the end and do not stop the others.
    """
    from wherewhen.features.extract import ExtractOptions, extract_videos, parse_shard

    reader = flags.reader_options(ctx.params)
    index = dataset_index(ctx, list(inputs or []), dataset, root, split, reader)
    spec = sampling_spec(ctx, sampling, frames=frames, rate=rate, stride=stride, max_frames=max_frames, train=tsn_train)
    options = ExtractOptions(
        backbone=backbone,
        weights=weights,
        sampling=spec,
        batch_size=batch_size,
        workers=workers,
        device=backbone_device(ctx, device),
        flow=flow,
        shard=parse_shard(shard) if shard else None,
        progress=progress,
    )
    print_summary(extract_videos(index.records, out, options, classes=index.classes), index.skipped)


def register(app: typer.Typer) -> None:
    app.command()(extract)
