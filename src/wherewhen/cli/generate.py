"""`wherewhen generate`: write the embedded where-and-when benchmark (videos plus annotations) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wherewhen.errors import ConfigError
from wherewhen.wording import count


def _parse_sets(items: list[str]) -> dict[str, str]:
    knobs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"--set {item!r}: expected KNOB=VALUE, e.g. --set frames=64")
        if name.strip() in knobs:
            raise ConfigError(f"--set {name.strip()} is given twice; give each knob once")
        knobs[name.strip()] = value.strip()
    return knobs


def generate(
    root: Annotated[Path, typer.Argument(help="Folder to write the benchmark into (created; a killed run resumes).")],
    preset_name: Annotated[
        str, typer.Option("--preset", help="default (demo, tests) or full (benchmarks).")
    ] = "default",
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Change a knob: --set frames=64 (repeatable).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of every random choice (same seed, same files).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Render processes (default: CPU count, <= 8).")
    ] = None,
) -> None:
    """Generate the embedded benchmark: seeded MP4 videos with exact where (boxes) and when (segments)."""
    from wherewhen.datasets.benchmark import generate_benchmark, preset
    from wherewhen.progress import counting_bar

    overrides: dict[str, object] = dict(_parse_sets(sets or []))
    if seed is not None:
        if "seed" in overrides:
            raise ConfigError("--seed and --set seed=... both set the seed; give one of them")
        overrides["seed"] = seed
    config = preset(preset_name).with_overrides(overrides)
    with counting_bar("generate", unit="video") as progress:
        summary = generate_benchmark(root, config, workers=workers, progress=progress)
    typer.echo(
        f"{count(summary.videos, 'video')} of {count(len(summary.classes), 'class')} "
        f"({', '.join(summary.classes)}) in {root}: "
        f"{summary.train} train, {summary.test} test; {summary.generated} rendered, {summary.skipped} already "
        f"there; {summary.seconds:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command()(generate)
