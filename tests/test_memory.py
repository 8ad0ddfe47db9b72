"""glibc's malloc thresholds: the main process keeps freed buffers, DataLoader workers hand them back.

Each case runs in a fresh process: the thresholds are process-wide and cannot be unset.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

BACKBONE_FAULTS = """
import resource, sys, torch
from wherewhen.memory import keep_freed_memory
if sys.argv[2] == "keep":
    assert keep_freed_memory()
if sys.argv[2] == "command":  # what every `wherewhen` command sets before it runs
    from wherewhen.cli import main
    main(["version"])
from wherewhen.backbones import load_backbone
from wherewhen.features.forward import embed_frames
from wherewhen.video.decode import read_frames
from wherewhen.video.transforms import CenterSquare
clip = torch.from_numpy(read_frames(sys.argv[1], list(range(0, 80, 10)), shorter_side=CenterSquare(224, 224)))
backbone = load_backbone()
embed_frames(backbone, [clip], 64)
faults = []
for _ in range(4):  # the fewest of a run: a thread's malloc arena can still grow in an early one
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    embed_frames(backbone, [clip], 64)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(min(faults))
"""


def page_faults(code: str, *args: str) -> int:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_the_backbone_reuses_freed_memory_instead_of_faulting_it_in_again(bikes_mp4: Path) -> None:
    """By default every backbone pass faulted its activations in afresh (~2,400 page faults a frame)."""
    default = page_faults(BACKBONE_FAULTS, str(bikes_mp4), "default")
    kept = page_faults(BACKBONE_FAULTS, str(bikes_mp4), "keep")
    command = page_faults(BACKBONE_FAULTS, str(bikes_mp4), "command")
    assert default > 2_000, default  # 8 frames; else this machine's malloc never had the problem
    assert kept < default / 10, (kept, default)
    assert command < default / 10, (command, default)


WORKER_FAULTS = """
import resource, sys
import numpy as np
from wherewhen.memory import keep_freed_memory, pin_mmap_threshold
keep_freed_memory()  # what a worker inherits from the main process
if sys.argv[1] == "worker":
    pin_mmap_threshold()
elements = int(sys.argv[2])
np.ones(elements)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    np.ones(elements)  # freed at once
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.parametrize("megabytes", [0.5, 8])  # 0.5: from the heap, trimmed at once; 8: a mapping of its own
def test_a_worker_hands_freed_buffers_back_at_once(megabytes: float) -> None:
    """A worker must not keep what it frees (its cubes would fragment a heap that never shrinks), even though the
    main process it forked from keeps freed memory."""
    elements = str(int(megabytes * (1 << 20)) // 8)
    main_process = page_faults(WORKER_FAULTS, "main", elements)
    worker = page_faults(WORKER_FAULTS, "worker", elements)
    assert worker > 10 * 50 * megabytes, worker  # each buffer faulted in afresh (numpy asks for huge pages at 8 MB)
    assert main_process < worker / 10, (main_process, worker)  # 0 here; the margin is for a kernel that reclaims
