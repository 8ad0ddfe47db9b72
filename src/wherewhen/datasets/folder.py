"""A folder of videos: one subfolder per class, or a flat folder with the label in the file name.

Layouts (--root)::

    ROOT/<class>/**/<video>          one folder per class (videos may sit in subfolders of it)
    ROOT/**/<video>                  with --label-pattern: the label is a regex match on the file name

Labels: with ``label_pattern`` the first capture group of ``re.search(label_pattern, file name)`` (the whole match
when the pattern has no group); otherwise the class folder. Groups: the same with ``group_pattern`` (none without it).

Splits (deterministic):
  - with ``group_pattern``: ``split`` N (1-based, groups in natural order) or a group's name = leave that group out
    (test) and train on the others; ``split="holdout"`` = shuffled groups go to test (then val) until
    ``test_fraction`` (``val_fraction``) of the videos is reached; a group never straddles splits.
  - without: per class, a seeded shuffle puts round(n * test_fraction) videos in test and round(n * val_fraction)
    in val; ``split`` N reseeds it.

The course clips ``PS7A{a}P{p}T{t}.avi`` of Udacity ud810 read with ``label_pattern="A\\d"`` and
``group_pattern="P\\d"``: three actions, three people, leave-one-person-out folds of 18 train / 9 test.
"""

from __future__ import annotations

import re
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number, group_split, leave_one_group_out, stratified_split
from wherewhen.datasets.textfiles import require_dir
from wherewhen.datasets.videofiles import natural_key, scan_videos, with_unique_ids
from wherewhen.errors import ConfigError, DatasetError
from wherewhen.video.records import VideoRecord

DEFAULT_TEST_FRACTION = 0.3


def compile_pattern(pattern: str, option: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{option} '{pattern}' is not a valid regular expression: {exc}") from None


def match_name(pattern: re.Pattern[str], path: Path, option: str) -> str:
    """The first capture group (or the whole match) of ``pattern`` in the file name of ``path``."""
    match = pattern.search(path.name)
    if match is None:
        raise DatasetError(path, f"file name does not match {option} '{pattern.pattern}'")
    value = match.group(1) if pattern.groups else match.group(0)
    if not value:
        raise DatasetError(path, f"{option} '{pattern.pattern}' matches an empty string")
    return value


def _scan(root: Path, label_re: re.Pattern[str] | None) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(video, label) pairs, and the paths skipped with why (``scan_videos``)."""
    if label_re is not None:
        videos, skipped = scan_videos(root)
        return [(v, match_name(label_re, v, "--label-pattern")) for v in videos], skipped
    stray, skipped = scan_videos(root, recursive=False)
    if stray:
        raise DatasetError(stray[0], "video outside a class folder; pass --label-pattern for a flat folder")
    skipped = [(p, why) for p, why in skipped if not p.is_dir()]  # a class folder may have any name
    found = []
    class_dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for class_dir in sorted(class_dirs, key=lambda p: natural_key(p.name)):
        videos, more = scan_videos(class_dir)
        found += [(v, class_dir.name) for v in videos]
        skipped += more
    return found, skipped


def _split(
    records: list[VideoRecord],
    split: int | str,
    grouped: bool,
    test_fraction: float | None,
    val_fraction: float | None,
    seed: int | None,
) -> list[VideoRecord]:
    given = {"--test-fraction": test_fraction, "--val-fraction": val_fraction, "--seed": seed}
    shares = (
        DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction,
        0.0 if val_fraction is None else val_fraction,
        0 if seed is None else seed,
    )
    if grouped and str(split).lower() == "holdout":
        return group_split(records, *shares)
    if grouped:
        unused = [flag for flag, value in given.items() if value is not None]
        if unused:
            raise ConfigError(
                f"{', '.join(unused)}: --split {split} holds one group out, which takes no fraction or seed "
                "(they shape --split holdout)"
            )
        return leave_one_group_out(records, split)
    number = check_split_number(split, range(1, 1000), "a folder without --group-pattern (N reseeds the split)")
    return stratified_split(records, *shares, number)


def read_folder(
    root: Path,
    split: int | str = 1,
    label_pattern: str | None = None,
    group_pattern: str | None = None,
    test_fraction: float | None = None,
    val_fraction: float | None = None,
    seed: int | None = None,
) -> DatasetIndex:
    """Videos under ``root`` labelled by class folder or file-name pattern, split as the module docstring says.

    ``test_fraction`` (default 0.3), ``val_fraction`` (0) and ``seed`` (0) make the stratified or holdout split;
    given with a leave-one-group-out split, which does not use them, they are a ConfigError.
    """
    root = require_dir(Path(root), "video folder")
    label_re = compile_pattern(label_pattern, "--label-pattern") if label_pattern else None
    group_re = compile_pattern(group_pattern, "--group-pattern") if group_pattern else None
    found, skipped = _scan(root, label_re)
    if not found:
        raise DatasetError(root, "no video files found (looked for .avi, .mp4, .mkv, .mov, .webm, ...)")
    records = [
        VideoRecord(path=path, label=label, group=match_name(group_re, path, "--group-pattern") if group_re else None)
        for path, label in found
    ]
    records = _split(records, split, group_re is not None, test_fraction, val_fraction, seed)
    classes = sorted({r.label for r in records}, key=natural_key)
    return DatasetIndex(classes=classes, records=with_unique_ids(records, root), skipped=skipped)
