"""The `wherewhen` command line. Thin: every module here adds its commands and calls the library.

Each module in this package defines ``register(app: typer.Typer) -> None``; modules are discovered, so a new
command is one file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from wherewhen.errors import WherewhenError
from wherewhen.memory import keep_freed_memory

app = typer.Typer(
    name="wherewhen",
    help="Interpretable video action recognition: where and when a model looks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: a WherewhenError becomes one line on stderr and exit status 2."""
    keep_freed_memory()
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except WherewhenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("aborted", file=sys.stderr)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:
        # Usage errors of the click that typer vendors: show them the way click would, without a traceback.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise
