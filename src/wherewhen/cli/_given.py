"""Which options the command line set, so that a command can refuse the ones its form of input does not use."""

from __future__ import annotations

import typer

from wherewhen.errors import ConfigError

_SET_BY_USER = ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def flag(ctx: typer.Context, name: str) -> str:
    """The long flag of parameter ``name`` (``group_pattern`` -> ``--group-pattern``)."""
    for param in ctx.command.params:
        if param.name == name:
            return max(param.opts, key=len)
    raise KeyError(name)


def given(ctx: typer.Context, *names: str) -> list[str]:
    """The long flags of the parameters ``names`` that the user set (an explicit default counts as set)."""
    found = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in _SET_BY_USER:
            found.append(flag(ctx, name))
    return found


def refuse(flags: list[str], where: str) -> None:
    """A ConfigError naming ``flags`` (when there are any) and the form of input that uses them."""
    if flags:
        verb = "is" if len(flags) == 1 else "are"
        raise ConfigError(f"{', '.join(flags)} {verb} {where}")
