"""What stands at a path that should be a video file, in words, without opening it (no PyAV import)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def link_problem(path: Path) -> str | None:
    """Why the symbolic link ``path`` leads nowhere (a loop, or a missing target); None for anything else."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (it leads back to itself)"
        if path.is_symlink():
            return f"is a broken symbolic link (to {os.readlink(path)}, which does not exist)"
    return None


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a video file (missing, a folder, a looping or broken link, ...); None when
    it is a regular file."""
    problem = link_problem(path)
    if problem is not None:
        return problem
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return "no such file" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a video file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None
