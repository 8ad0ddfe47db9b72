"""glibc's malloc thresholds, set for the two kinds of process wherewhen runs (no-ops where libc is not glibc).

``keep_freed_memory`` (the main process, which frees and re-allocates the same large activation buffers every pass)
keeps up to 256 MiB of freed heap for reuse instead of handing it back and faulting it in again: see "backbone-only
page faults" in benchmarks/RESULTS.md. ``pin_mmap_threshold`` (DataLoader workers, which free a 2 MB cube per clip)
keeps every cube in its own mapping, returned when freed, so a worker's heap does not fragment and grow: see "peak
RSS, largest worker".
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_TRIM_DEFAULT = 128 << 10
_KEEP_FREED = 256 << 20
_LARGEST_HEAP_ALLOCATION = 32 << 20  # glibc's ceiling for the mmap threshold on 64-bit systems
_WORKER_MMAP_THRESHOLD = 1 << 20


@cache
def _mallopt() -> Callable[[int, int], int] | None:
    try:  # the symbols already loaded into the process: its libc's (find_library would spawn ldconfig)
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (no mallopt), or Windows
        return None


def _set(option: int, value: int) -> bool:
    mallopt = _mallopt()
    return bool(mallopt and mallopt(option, value) == 1)


def keep_freed_memory() -> bool:
    """For the process that runs the models: freed heap memory stays for reuse (up to 256 MiB), and allocations up
    to 32 MiB come from the heap. The ``wherewhen`` command sets this at start; call it in your own scripts for the
    same speed. Returns whether libc took it."""
    return _set(_M_MMAP_THRESHOLD, _LARGEST_HEAP_ALLOCATION) and _set(_M_TRIM_THRESHOLD, _KEEP_FREED)


def pin_mmap_threshold(_worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: allocations from 1 MiB up always use mmap, free heap goes back at once."""
    _set(_M_MMAP_THRESHOLD, _WORKER_MMAP_THRESHOLD)
    _set(_M_TRIM_THRESHOLD, _GLIBC_TRIM_DEFAULT)
