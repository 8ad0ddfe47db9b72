"""A tqdm bar driven by ``callback(done, total)`` reports, opened at the first report (so a job refused before it
starts prints no bar)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def counting_bar(desc: str, unit: str = "it", enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    bars: list[tqdm] = []

    def report(done: int, total: int) -> None:
        if not enabled:
            return
        if not bars:
            bars.append(tqdm(total=total, unit=unit, desc=desc))
        bars[0].update(done - bars[0].n)

    try:
        yield report
    finally:
        for bar in bars:
            bar.close()
