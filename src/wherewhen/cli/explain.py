"""`wherewhen explain MODEL VIDEO -o OUT`: what a trained model predicts for a video, and where and when it looked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from wherewhen.wording import count

if TYPE_CHECKING:
    from wherewhen.explain.truth import GroundTruth


def ground_truth(video: Path, model: Path, truth: Path | None, no_truth: bool) -> GroundTruth | None:
    """The video's ground truth as ``--truth`` / ``--no-truth`` ask (``wherewhen.explain.truth.find_truth``)."""
    from wherewhen.errors import ConfigError
    from wherewhen.explain.truth import find_truth

    if truth is not None and no_truth:
        raise ConfigError("--truth and --no-truth contradict each other; give one of them")
    if no_truth:
        return None
    found = find_truth(video, model, truth, warn=lambda note: typer.echo(note, err=True))
    if truth is not None and found is None and video.is_file():
        typer.echo(f"note: {truth} holds no ground truth for {video.name}", err=True)
    return found


def register(app: typer.Typer) -> None:
    @app.command()
    def explain(
        model: Path = typer.Argument(..., help="a run directory of `wherewhen train`, or its model/ folder"),
        video: Path = typer.Argument(..., help="any video file FFmpeg reads"),
        out: Path = typer.Option(..., "--out", "-o", help="output folder (refused if it exists and is not empty)"),
        force: bool = typer.Option(False, "--force", help="replace an existing output folder"),
        device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: CUDA when present)"),
        threshold: float = typer.Option(0.5, "--threshold", help="attention / max kept for boxes and segments"),
        percentile: float = typer.Option(80.0, "--percentile", help="heatmap shows pixels above this percentile"),
        alpha: float = typer.Option(0.5, "--alpha", help="heatmap opacity"),
        colormap: str = typer.Option("jet", "--colormap", help="OpenCV colormap name (jet, turbo, inferno, ...)"),
        fps: float | None = typer.Option(None, "--fps", help="frame rate of the MP4 (default: the video's pace)"),
        backbone_weights: Path | None = typer.Option(
            None, "--backbone-weights", help="state dict of a torchvision backbone not in the torch hub cache"
        ),
        truth: Path | None = typer.Option(
            None,
            "--truth",
            help="feature store or embedded benchmark folder with the video's ground truth (default: the run's "
            "store, then a benchmark folder above the video)",
        ),
        no_truth: bool = typer.Option(False, "--no-truth", help="show no ground truth"),
    ) -> None:
        """Write OUT/report.html with the top-5 classes, the annotated video (heatmaps, boxes, timeline), a contact
        sheet and explanation.json (every per-frame attention map, box and segment); with the video's ground truth
        beside the attention when it has one."""
        from wherewhen.explain import Explainer, HeatmapStyle, RenderOptions, check_output_dir, explain_to_folder
        from wherewhen.explain.explanation import truth_line
        from wherewhen.explain.framing import framing_warning

        check_output_dir(out, force)  # before any slow work
        options = RenderOptions(style=HeatmapStyle(percentile=percentile, alpha=alpha, colormap=colormap), fps=fps)
        start = time.perf_counter()
        found = ground_truth(video, model, truth, no_truth)
        explainer = Explainer.from_pretrained(
            model, device=device, threshold=threshold, backbone_weights=backbone_weights
        )
        for note in explainer.notes:
            typer.echo(note, err=True)
        explanation, files = explain_to_folder(explainer, video, out, force=force, options=options, truth=found)
        warning = framing_warning(explanation, explainer.features.input_size)
        if warning is not None:
            typer.echo(warning, err=True)
        typer.echo(f"{video.name}: {explanation.label} ({explanation.confidence:.1%})")
        for name, p in explanation.top5:
            typer.echo(f"  {p:7.2%}  {name}")
        spans = ", ".join(f"{s.start_s:.1f}-{s.end_s:.1f} s" for s in explanation.segments) or "none"
        typer.echo(f"attended: {spans}")
        line = truth_line(explanation)
        if line is not None:
            typer.echo(line)
        typer.echo(
            f"{count(len(explanation.frames), 'frame')} explained in {time.perf_counter() - start:.1f} s "
            f"-> {files['html']}"
        )
