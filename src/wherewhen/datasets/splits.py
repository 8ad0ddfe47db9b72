"""Assigning train/val/test: deterministic stratified splits, group-aware splits, leave-one-group-out folds.

Every function here is deterministic: the same records and seed give the same split on every machine (Python's
``random.Random`` seeded with a string uses SHA-512 of it, independent of hash randomization).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Sequence

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.videofiles import natural_key
from wherewhen.errors import ConfigError
from wherewhen.video.records import VideoRecord


def check_split_number(split: int | str, allowed: Sequence[int], dataset: str) -> int:
    """``split`` as an int from ``allowed``, or a ConfigError naming the dataset's splits."""
    try:
        number = int(split)
    except (TypeError, ValueError):
        number = -1
    if number not in allowed:
        choices = ", ".join(map(str, allowed)) if len(allowed) <= 5 else f"{allowed[0]}..{allowed[-1]}"
        raise ConfigError(f"{dataset} has splits {choices}; got --split {split}")
    return number


def check_fractions(test_fraction: float, val_fraction: float) -> None:
    if not (0.0 <= test_fraction < 1.0 and 0.0 <= val_fraction < 1.0 and test_fraction + val_fraction < 1.0):
        raise ConfigError(
            f"--test-fraction {test_fraction} and --val-fraction {val_fraction} must be in [0, 1) with a sum below 1"
        )


def _rng(seed: int, split: int | str) -> random.Random:
    return random.Random(f"wherewhen:{seed}:{split}")


def stratified_split(
    records: Sequence[VideoRecord], test_fraction: float = 0.3, val_fraction: float = 0.0, seed: int = 0, split: int = 1
) -> list[VideoRecord]:
    """Per class: shuffle (seeded by ``seed`` and ``split``), then round(n * fraction) to test, then to val.

    Every class with at least two videos keeps at least one training video and, when ``test_fraction > 0``,
    gets at least one test video.
    """
    check_fractions(test_fraction, val_fraction)
    rng = _rng(seed, split)
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_class[r.label].append(i)
    assigned: dict[int, str] = {}
    for label in sorted(by_class, key=natural_key):
        members = sorted(by_class[label], key=lambda i: natural_key(str(records[i].path)))
        rng.shuffle(members)
        n = len(members)
        n_test = round(n * test_fraction)
        n_val = round(n * val_fraction)
        if n >= 2 and test_fraction > 0:
            n_test = max(1, n_test)
        n_test = min(n_test, max(n - 1, 0))
        n_val = min(n_val, max(n - 1 - n_test, 0))
        for k, i in enumerate(members):
            assigned[i] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return [dataclasses.replace(r, split=assigned[i]) for i, r in enumerate(records)]


def groups_of(records: Sequence[VideoRecord]) -> list[str]:
    """The distinct groups, in natural order; a record without a group is a ConfigError."""
    missing = [r for r in records if r.group is None]
    if missing:
        raise ConfigError(f"{missing[0].path}: video has no group (give a group pattern for group-aware splits)")
    return sorted({r.group for r in records if r.group is not None}, key=natural_key)


def group_split(
    records: Sequence[VideoRecord], test_fraction: float = 0.3, val_fraction: float = 0.0, seed: int = 0, split: int = 1
) -> list[VideoRecord]:
    """Group-aware holdout: shuffled groups go to test until ``test_fraction`` of the videos is reached, then val.

    No group ever straddles two splits.
    """
    check_fractions(test_fraction, val_fraction)
    groups = groups_of(records)
    sizes = defaultdict(int)
    for r in records:
        sizes[r.group] += 1
    rng = _rng(seed, split)
    order = list(groups)
    rng.shuffle(order)
    total = len(records)
    assignment: dict[str, str] = {}
    n_test = n_val = 0
    for g in order:
        if n_test < test_fraction * total and len(assignment) < len(order) - 1:
            assignment[g], n_test = "test", n_test + sizes[g]
        elif n_val < val_fraction * total and len(assignment) < len(order) - 1:
            assignment[g], n_val = "val", n_val + sizes[g]
        else:
            assignment[g] = "train"
    return [dataclasses.replace(r, split=assignment[str(r.group)]) for r in records]


def leave_one_group_out(records: Sequence[VideoRecord], split: int | str) -> list[VideoRecord]:
    """Group ``split`` (1-based position in natural order, or the group's name) is test, every other group train.

    Records marked ``unused`` stay unused.
    """
    groups = groups_of(records)
    if isinstance(split, str) and split in groups:
        held_out = split
    else:
        number = check_split_number(split, list(range(1, len(groups) + 1)), f"leave-one-group-out over {groups}")
        held_out = groups[number - 1]
    return [
        r if r.split == "unused" else dataclasses.replace(r, split="test" if r.group == held_out else "train")
        for r in records
    ]


def leave_one_group_out_folds(index: DatasetIndex) -> list[tuple[str, DatasetIndex]]:
    """(held-out group, index with that group as test and all others as train) for every group, in natural order."""
    return [
        (group, DatasetIndex(classes=list(index.classes), records=leave_one_group_out(index.records, group)))
        for group in groups_of(index.records)
    ]
