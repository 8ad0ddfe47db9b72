"""`wherewhen version` and `wherewhen models`."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the toolkit version."""
        from wherewhen import __version__

        typer.echo(__version__)

    @app.command()
    def models() -> None:
        """List the registered model heads."""
        from wherewhen.models import available_models, model_class

        for name in available_models():
            cls = model_class(name)
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or name).strip().splitlines()[0]
            typer.echo(f"{name:14s} {doc}")
