"""`wherewhen explain MODEL VIDEO -o OUT`: what a trained model predicts for a video, and where and when it looked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wherewhen.wording import count

if TYPE_CHECKING:
    from wherewhen.explain import Explainer, Explanation
    from wherewhen.explain.sliding import SlidingPlan
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


def sliding_plan(
    explainer: Explainer,
    model: Path,
    video: Path,
    sliding: bool | None,
    window: int | None,
    stride: int | None,
    rate: float | None,
) -> SlidingPlan | None:
    """The sliding clips asked for: by ``--sliding``, by any of ``--window/--stride/--rate``, or by default for a
    video much longer than the model's training clips; None for one explanation of the whole video."""
    from wherewhen.errors import ConfigError
    from wherewhen.explain.sliding import default_plan, is_long, training_clip_seconds
    from wherewhen.explain.truth import run_store
    from wherewhen.video.probe import probe

    given = [name for name, v in (("--window", window), ("--stride", stride), ("--rate", rate)) if v is not None]
    if given and sliding is False:
        raise ConfigError(f"{', '.join(given)}: for sliding clips only; drop --no-sliding or the option")
    clip_seconds = training_clip_seconds(explainer.features, run_store(model.expanduser()))
    if sliding is None and not given:
        if not video.is_file():
            return None  # explaining reports the missing video
        sliding = is_long(probe(video).duration, clip_seconds)
    return default_plan(explainer, clip_seconds, window, stride, rate) if sliding or given else None


def chosen_rows(
    explainer: Explainer, model: Path, video: Path, selection: Path | None, plan: SlidingPlan | None
) -> list[int] | None:
    """The rows a person chose in ``video`` for a model that takes a frame selection (``--selection``, else the
    run's), found by the video's id in the run's feature store; None otherwise (every row counts)."""
    from wherewhen.explain.truth import matching, resolved, run_store, store_records
    from wherewhen.features.frame_selection import load_frame_selection

    if "frame_mask" not in explainer.inputs:
        if selection is not None:
            typer.echo(f"note: {explainer.model.name} takes no frame selection; --selection ignored", err=True)
        return None
    if plan is not None:
        typer.echo("note: sliding clips do not take a frame selection; every frame counts as chosen", err=True)
        return None
    chosen = load_frame_selection(selection) if selection is not None else dict(explainer.sources.selection or {})
    store, target = run_store(model.expanduser()), resolved(video.expanduser())
    record = (
        None if store is None or target is None else matching(store_records(store), lambda r: Path(r.video), target)
    )
    video_id = record.video_id if record is not None else video.stem
    rows = chosen.get(video_id)
    if rows is None:
        typer.echo(f"note: the frame selection has no rows for {video_id}; every frame counts as chosen", err=True)
    return None if rows is None else list(rows)


def print_summary(
    video: Path, explanation: Explanation, sliding: SlidingPlan | None, explainer: Explainer, html: Path, start: float
) -> None:
    """What the command prints: the framing warning, the prediction, the attended stretches (with sliding clips,
    the segment rows), how the attention met the ground truth, and where the report is."""
    from wherewhen.explain.detections import detection_rows
    from wherewhen.explain.explanation import truth_line
    from wherewhen.explain.framing import framing_warning

    warning = framing_warning(explanation, explainer.features.input_size)
    if warning is not None:
        typer.echo(warning, err=True)
    typer.echo(f"{video.name}: {explanation.label} ({explanation.confidence:.1%})")
    for name, p in explanation.top5:
        typer.echo(f"  {p:7.2%}  {name}")
    spans = ", ".join(f"{s.start_s:.1f}-{s.end_s:.1f} s" for s in explanation.segments) or "none"
    typer.echo(f"attended: {spans}")
    if sliding is not None:
        typer.echo(
            f"{len(explanation.clips)} sliding clips ({sliding.describe()}); segments (video start end class score):"
        )
        for name, start, end, label, score in detection_rows(explanation):
            typer.echo(f"  {name} {start:.2f} {end:.2f} {label} {score:.4f}")
    line = truth_line(explanation)
    if line is not None:
        typer.echo(line)
    seconds = time.perf_counter() - start
    typer.echo(f"{count(len(explanation.frames), 'frame')} explained in {seconds:.1f} s -> {html}")


# The options of `wherewhen explain`.
Model = Annotated[Path, typer.Argument(help="a run directory of `wherewhen train`, or its model/ folder")]
Video = Annotated[Path, typer.Argument(help="any video file FFmpeg reads")]
Out = Annotated[Path, typer.Option("--out", "-o", help="output folder (refused if it exists and is not empty)")]
Force = Annotated[bool, typer.Option("--force", help="replace an existing output folder")]
Device = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 (default: CUDA when present)")]
Threshold = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="attention / max kept for boxes and / mean for segments (default: the model's box threshold; 0.5)",
    ),
]
Percentile = Annotated[float, typer.Option("--percentile", help="heatmap shows pixels above this percentile")]
Alpha = Annotated[float, typer.Option("--alpha", help="heatmap opacity")]
Colormap = Annotated[str, typer.Option("--colormap", help="OpenCV colormap name (jet, turbo, inferno, ...)")]
Fps = Annotated[float | None, typer.Option("--fps", help="frame rate of the MP4 (default: the video's pace)")]
BackboneWeights = Annotated[
    Path | None,
    typer.Option("--backbone-weights", help="state dict of a torchvision backbone not in the torch hub cache"),
]
Truth = Annotated[
    Path | None,
    typer.Option(
        "--truth",
        help="feature store or embedded benchmark folder with the video's ground truth (default: the run's "
        "store, then a benchmark folder above the video)",
    ),
]
NoTruth = Annotated[bool, typer.Option("--no-truth", help="show no ground truth")]
Sliding = Annotated[
    bool | None,
    typer.Option(
        "--sliding/--no-sliding",
        help="explain as sliding clips over the whole video (default: when it lasts more than 8 training clips)",
    ),
]
Window = Annotated[int | None, typer.Option("--window", help="rows per sliding clip (default: the run's T)")]
Stride = Annotated[int | None, typer.Option("--stride", help="rows between sliding clips (default: half a window)")]
Rate = Annotated[
    float | None,
    typer.Option("--rate", help="rows per second for sliding clips (default: the pace of the training clips)"),
]
Selection = Annotated[
    Path | None,
    typer.Option("--selection", help="frame selection JSON for a model that takes one (default: the run's)"),
]


def explain(
    model: Model,
    video: Video,
    out: Out,
    force: Force = False,
    device: Device = None,
    threshold: Threshold = None,
    percentile: Percentile = 80.0,
    alpha: Alpha = 0.5,
    colormap: Colormap = "jet",
    fps: Fps = None,
    backbone_weights: BackboneWeights = None,
    truth: Truth = None,
    no_truth: NoTruth = False,
    sliding: Sliding = None,
    window: Window = None,
    stride: Stride = None,
    rate: Rate = None,
    selection: Selection = None,
) -> None:
    """Write OUT/report.html with the top-5 classes, the annotated video (heatmaps, boxes, timeline), a contact
    sheet, explanation.json (every per-frame attention map, box and segment) and segments.csv (video, start,
    end, class, score); with the video's ground truth beside the attention when it has one. A long video is
    explained as sliding clips, with one timeline over its whole length."""
    from wherewhen.explain import Explainer, HeatmapStyle, RenderOptions, check_output_dir, explain_to_folder

    check_output_dir(out, force)  # before any slow work
    options = RenderOptions(style=HeatmapStyle(percentile=percentile, alpha=alpha, colormap=colormap), fps=fps)
    start = time.perf_counter()
    found = ground_truth(video, model, truth, no_truth)
    explainer = Explainer.from_pretrained(model, device=device, threshold=threshold, backbone_weights=backbone_weights)
    for note in explainer.notes:
        typer.echo(note, err=True)
    plan = sliding_plan(explainer, model, video, sliding, window, stride, rate)
    chosen = chosen_rows(explainer, model, video, selection, plan)
    explanation, files = explain_to_folder(
        explainer, video, out, force=force, options=options, truth=found, chosen=chosen, sliding=plan
    )
    print_summary(video, explanation, plan, explainer, files["html"], start)


def register(app: typer.Typer) -> None:
    app.command()(explain)
