"""`wherewhen demo`: the main job on the embedded default, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wherewhen.demo import DEFAULT_MODELS


def check_models(names: tuple[str, ...]) -> None:
    from wherewhen.errors import ConfigError
    from wherewhen.models import available_models

    if not names:
        raise ConfigError("--models names no model; give one or more of `wherewhen models`, comma-separated")
    unknown = [n for n in names if n not in available_models()]
    if unknown:
        raise ConfigError(f"--models: unknown model {unknown[0]!r}; choose from {', '.join(available_models())}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--models {','.join(names)}: a model is named twice")


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for everything the demo writes")] = Path("demo_out"),
    preset: Annotated[str, typer.Option("--preset", help="embedded benchmark preset: default | full")] = "default",
    models: Annotated[str, typer.Option("--models", help="comma-separated; the first is explained")] = ",".join(
        DEFAULT_MODELS
    ),
) -> None:
    """Generate the embedded benchmark, extract features, train an attention model and a baseline, evaluate
    both, localize, and explain one test video. Re-running reuses finished steps."""
    from rich.console import Console
    from rich.table import Table

    from wherewhen.demo import run_demo

    names = tuple(m.strip() for m in models.split(",") if m.strip())
    check_models(names)  # before the minutes of generating and extracting
    result = run_demo(out, preset, names, say=typer.echo)
    table = Table(title="Embedded where-and-when benchmark, test split")
    for column in ("model", "video top-1", "pointing game", "spatial mAP@0.3", "temporal mAP@0.5", "train s"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=column == "model")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    for s in result.scores:
        table.add_row(
            s.model,
            pct(s.top1),
            pct(s.pointing_game),
            pct(s.spatial_map_03),
            pct(s.temporal_map_05),
            f"{s.train_seconds:.0f}",
        )
    console = Console()
    console.print(table)
    total = sum(result.steps.values())
    console.print(
        "steps: "
        + ", ".join(f"{k.split(' ', 1)[0]} {v:.0f} s" for k, v in result.steps.items())
        + f"; total {total:.0f} s"
    )
    console.print(f"explained {result.explained_video}")
    console.print(f"  report:        {result.report}")
    console.print(f"  heatmap video: {result.heatmap_video}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
