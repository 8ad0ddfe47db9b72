"""Files that appear complete or not at all: write to a temporary name beside the final one, then rename.

A job killed mid-write leaves only a hidden ``.<name>.<random>.tmp`` file (or folder), never a half-written file
under the final name; ``remove_stale_temporaries`` deletes such leftovers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A temporary file untouched this long is a leftover of a killed job: an atomic write renames its file within
# seconds of its last change.
STALE_AFTER_S = 60.0


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it over ``final`` only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the temporary files and folders (``.*.tmp``) that a killed job left anywhere under ``folder``; return
    them. One changed in the last ``older_than_s`` seconds may belong to a job writing there now, and is kept."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in sorted(folder.rglob(".*.tmp")):  # a folder before what it holds
        try:
            if now - _last_change(path) < older_than_s:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
        removed.append(path)
    return removed


def _last_change(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, of everything in it."""
    times = [path.lstat().st_mtime]
    if path.is_dir() and not path.is_symlink():
        times += [p.lstat().st_mtime for p in path.rglob("*")]
    return max(times)
