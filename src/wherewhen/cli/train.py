"""`wherewhen train`: train a model on a feature store and write a run directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from wherewhen.cli._given import given, refuse

# Options that set a config value: the key, and the parameter it comes from.
OPTION_KEYS = {"data.store": "data", "model.name": "model", "train.progress": "quiet"}


def check_overrides(ctx: typer.Context, overrides: list[str]) -> None:
    """Refuse a --set that names a key twice, or that sets a key differently from an option given beside it."""
    from wherewhen.errors import ConfigError
    from wherewhen.train.config import parse_override

    parsed = [parse_override(item) for item in overrides]
    keys = [key for key, _ in parsed]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"--set {twice[0]} is given twice; give each key once")
    option_values = {"data.store": ctx.params["data"], "model.name": ctx.params["model"], "train.progress": False}
    for key, value in parsed:
        if key in OPTION_KEYS and str(value) != str(option_values[key]):
            where = f"setting {key}={option_values[key]}, against --set {key}={value}; give one of them"
            refuse(given(ctx, OPTION_KEYS[key]), where)


def train_command(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option("--data", help="Feature store folder made by `wherewhen extract`.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model name (see `wherewhen models`); default attention_pool, where and when."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file with config sections.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override one value: --set optim.lr=3e-4 (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run directory (default: runs/<model>-<time>).")] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help="Continue the interrupted run in this directory.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines.")] = False,
) -> None:
    """Train a model on cached feature cubes; prints where the run went.

    Config: defaults < --config YAML < --model/--data < --set (a --set that contradicts --model, --data or
    --quiet is refused). Under `torchrun --nproc_per_node=N` every process runs this command and the global
    batch is N x data.batch_size.
    """
    from wherewhen.errors import ConfigError
    from wherewhen.train.config import load_config
    from wherewhen.train.run import resume_run, train

    overrides = list(overrides or [])
    check_overrides(ctx, overrides)
    if quiet:
        overrides = [*overrides, "train.progress=false"]
    try:
        if resume is not None:
            refuse(
                given(ctx, "config", "model", "out"),
                "not used with --resume RUN, which continues with the run's own config, model and folder",
            )
            result = resume_run(resume, data=data, overrides=overrides, verbose=not quiet)
        else:
            if data is None:
                raise ConfigError("--data FEATURES is required (a feature store made by `wherewhen extract`)")
            values = {"data.store": str(data)} | ({"model.name": model} if model is not None else {})
            result = train(load_config(config, overrides, values=values), out, verbose=not quiet)
    except KeyboardInterrupt:
        typer.echo("interrupted; continue with `wherewhen train --resume RUN` (RUN is named above)", err=True)
        raise
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(str(result.run_dir))


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
