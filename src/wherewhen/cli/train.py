"""`wherewhen train`: train a model on a feature store and write a run directory."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        data: Path | None = typer.Option(None, "--data", help="Feature store folder made by `wherewhen extract`."),
        model: str | None = typer.Option(None, "--model", help="Model name (see `wherewhen models`)."),
        config: Path | None = typer.Option(None, "--config", help="YAML file with config sections."),
        overrides: list[str] = typer.Option([], "--set", help="Override one value: --set optim.lr=3e-4 (repeatable)."),
        out: Path | None = typer.Option(None, "--out", help="Run directory (default: runs/<model>-<time>)."),
        resume: Path | None = typer.Option(None, "--resume", help="Continue the interrupted run in this directory."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or per-epoch lines."),
    ) -> None:
        """Train a model on cached feature cubes; prints where the run went.

        Config: defaults < --config YAML < --model/--data < --set. Under `torchrun --nproc_per_node=N` every
        process runs this command and the global batch is N x data.batch_size.
        """
        from wherewhen.errors import ConfigError
        from wherewhen.train.config import load_config
        from wherewhen.train.run import resume_run, train

        if quiet:
            overrides = [*overrides, "train.progress=false"]
        try:
            if resume is not None:
                if config is not None or model is not None or out is not None:
                    raise ConfigError("--resume takes the run's own config; drop --config, --model and --out")
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
