"""`wherewhen explain MODEL VIDEO -o OUT`: what a trained model predicts for a video, and where and when it looked."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from wherewhen.wording import count


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
    ) -> None:
        """Write OUT/report.html with the top-5 classes, the annotated video (heatmaps, boxes, timeline), a contact
        sheet and explanation.json (every per-frame attention map, box and segment)."""
        from wherewhen.explain import Explainer, HeatmapStyle, RenderOptions, check_output_dir, explain_to_folder
        from wherewhen.explain.framing import framing_warning

        check_output_dir(out, force)  # before any slow work
        options = RenderOptions(style=HeatmapStyle(percentile=percentile, alpha=alpha, colormap=colormap), fps=fps)
        start = time.perf_counter()
        explainer = Explainer.from_pretrained(
            model, device=device, threshold=threshold, backbone_weights=backbone_weights
        )
        for note in explainer.notes:
            typer.echo(note, err=True)
        explanation, files = explain_to_folder(explainer, video, out, force=force, options=options)
        warning = framing_warning(explanation, explainer.features.input_size)
        if warning is not None:
            typer.echo(warning, err=True)
        typer.echo(f"{video.name}: {explanation.label} ({explanation.confidence:.1%})")
        for name, p in explanation.top5:
            typer.echo(f"  {p:7.2%}  {name}")
        spans = ", ".join(f"{s.start_s:.1f}-{s.end_s:.1f} s" for s in explanation.segments) or "none"
        typer.echo(f"attended: {spans}")
        typer.echo(
            f"{count(len(explanation.frames), 'frame')} explained in {time.perf_counter() - start:.1f} s "
            f"-> {files['html']}"
        )
