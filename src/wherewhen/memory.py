"""glibc's malloc thresholds, set for the two kinds of process wherewhen runs (no-ops where libc is not glibc).

The main process (backbone, heads, training) frees and re-allocates the same few large activation buffers on every
pass. By default glibc hands freed memory at the top of the heap back to the system as soon as more than a few
megabytes are free, so the next pass faults every page in again: 48 frames through the backbone took ~110,000 page
faults and 1.1-1.25x the time. ``keep_freed_memory`` keeps up to 256 MiB of freed heap for reuse; the peak resident
size is unchanged (the memory was in use a moment before).

DataLoader workers want the opposite. They allocate and free a 2 MB cube per clip; glibc raises its mmap threshold
after such frees, so later cubes come from the heap, which fragments and never shrinks: a worker streaming
UCF101-scale features grew to 1.3 GB. ``pin_mmap_threshold`` keeps every cube in its own mapping, returned to the
system when freed (440 MB), and gives back what a worker inherited from ``keep_freed_memory`` at fork.
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
