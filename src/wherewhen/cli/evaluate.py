"""`wherewhen evaluate RUN`: accuracy, confusion matrix and weakly supervised localization of a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory written by `wherewhen train`.")],
    split: Annotated[str | None, typer.Option(help="Split to evaluate (default: the run's test split).")] = None,
    data: Annotated[Path | None, typer.Option(help="Feature store (default: the one in RUN/run.json).")] = None,
    clips: Annotated[int | None, typer.Option(help="Clips per video, evenly spaced (default: all).")] = None,
    window: Annotated[int | None, typer.Option(help="Sliding windows of this many rows instead of clips.")] = None,
    stride: Annotated[int | None, typer.Option(help="Rows between window starts (default: --window).")] = None,
    frames: Annotated[
        int | None, typer.Option(help="Rows per clip at segment centres (default: the run's; 0: every row).")
    ] = None,
    aggregate: Annotated[
        str, typer.Option(help="Clip probabilities: model (its logits), or frames by mean, mode, attention.")
    ] = "model",
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Threshold of the maps (x their max) and temporal weights (x their mean) "
            "(default: the model's box threshold for maps, 0.5 for temporal weights)."
        ),
    ] = None,
    decoding: Annotated[
        str, typer.Option(help="practice (upsampled maps, sub-cell peaks) or paper (the paper's box rule).")
    ] = "practice",
    batch_size: Annotated[int, typer.Option(help="Clips per forward pass.")] = 16,
    device: Annotated[str, typer.Option(help="Where the model runs: cpu, cuda, cuda:N.")] = "cpu",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: RUN/eval-<split>).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output folder.")] = False,
) -> None:
    """Evaluate a run: top-1/top-5, mean class accuracy, confusion matrix, frame-mAP, pointing game, tmAP."""
    from wherewhen.errors import ConfigError
    from wherewhen.evaluate.predict import ClipPlan
    from wherewhen.evaluate.report import print_report
    from wherewhen.evaluate.runner import EvaluationConfig, evaluate_run
    from wherewhen.progress import progress_bar

    if stride is not None and window is None:
        raise ConfigError("--stride is the step between --window sliding windows; give --window too")
    plan = ClipPlan(num_clips=clips, window=window, stride=stride, frames=frames)
    config = EvaluationConfig(clips=plan, aggregate=aggregate, batch_size=batch_size)
    config = config.with_threshold(threshold).with_decoding(decoding)
    result, out_dir = evaluate_run(
        run,
        split=split,
        data=data,
        out=out,
        force=force,
        config=config,
        device=device,
        progress=lambda records: progress_bar(records, desc="evaluate", unit="video", leave=False),
    )
    print_report(result)
    typer.echo(f"wrote {out_dir}")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
