"""`wherewhen version`: the toolkit's version."""

from __future__ import annotations

import typer


def version() -> None:
    """Print the toolkit version."""
    from wherewhen import __version__

    typer.echo(__version__)


def register(app: typer.Typer) -> None:
    app.command()(version)
