"""Progress bars: one policy for every bar the toolkit draws.

On a terminal a bar redraws up to ten times a second. Written to a file or a CI log (the stream is not a terminal)
it redraws at most every ``LOG_INTERVAL_S`` seconds and stays at the end, so the log holds a few states and the
final count rather than every refresh.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from tqdm import tqdm

LOG_INTERVAL_S = 10.0


def is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    show: bool = True,
    terminal_only: bool = False,
    file: IO[str] | None = None,
    **options: Any,
) -> tqdm:
    """A tqdm bar on ``file`` (default: standard error) that follows the module's policy.

    show: False gives a bar that draws nothing (it still iterates and counts).
    terminal_only: draw nothing when ``file`` is not a terminal (for bars whose news a log gets another way).
    options: tqdm's (desc, total, unit, leave, ...); off a terminal ``mininterval`` and ``leave`` are overridden.
    """
    stream = file if file is not None else sys.stderr
    terminal = is_terminal(stream)
    if not terminal:
        options["mininterval"] = max(float(options.get("mininterval", 0.0)), LOG_INTERVAL_S)
        options["maxinterval"] = max(float(options.get("maxinterval", 0.0)), options["mininterval"])
        options["leave"] = True  # clearing a line means nothing in a file; keep the final count instead
        options["dynamic_ncols"] = False
    disable = not show or (terminal_only and not terminal)
    return tqdm(iterable, file=stream, disable=disable, **options)


@contextmanager
def counting_bar(desc: str, unit: str = "it", enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A bar driven by ``callback(done, total)`` reports, opened at the first report (so a job refused before it
    starts prints no bar)."""
    bars: list[tqdm] = []

    def report(done: int, total: int) -> None:
        if not enabled:
            return
        if not bars:
            bars.append(progress_bar(total=total, unit=unit, desc=desc))
        bars[0].update(done - bars[0].n)

    try:
        yield report
    finally:
        for bar in bars:
            bar.close()
