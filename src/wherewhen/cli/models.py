"""`wherewhen models`: the registered model heads, each with the first line of its docstring."""

from __future__ import annotations

import sys

import typer


def models() -> None:
    """List the registered model heads."""
    from wherewhen.models import available_models, model_class

    for name in available_models():
        cls = model_class(name)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or name).strip().splitlines()[0]
        typer.echo(f"{name:14s} {doc}")


def register(app: typer.Typer) -> None:
    app.command()(models)
