"""A folder per class, or file-name patterns: the real ud810 clips give leave-one-person-out folds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from wherewhen.datasets.folder import read_folder
from wherewhen.datasets.registry import read_dataset
from wherewhen.datasets.splits import group_split, leave_one_group_out_folds
from wherewhen.errors import ConfigError, DatasetError

UD810 = {"label_pattern": r"A\d", "group_pattern": r"P\d"}


def test_ud810_leave_one_person_out(ud810_dir: Path) -> None:
    index = read_folder(ud810_dir, 2, **UD810)
    assert index.classes == ["A1", "A2", "A3"]
    assert len(index.records) == 27
    assert Counter(r.label for r in index.records) == {"A1": 9, "A2": 9, "A3": 9}
    assert {r.group for r in index.split("test")} == {"P2"}
    assert index.records[0].video_id == "PS7A1P1T1" and index.records[0].path == ud810_dir / "PS7A1P1T1.avi"
    folds = leave_one_group_out_folds(index)
    assert [g for g, _ in folds] == ["P1", "P2", "P3"]
    for group, fold in folds:
        train, test = fold.split("train"), fold.split("test")
        assert (len(train), len(test)) == (18, 9)
        assert {r.group for r in test} == {group} and group not in {r.group for r in train}
        assert Counter(r.label for r in test) == {"A1": 3, "A2": 3, "A3": 3}
    assert read_dataset("folder", ud810_dir, "P3", **UD810).split("test") == folds[2][1].split("test")


def test_ud810_group_holdout_and_stratified(ud810_dir: Path) -> None:
    holdout = read_folder(ud810_dir, "holdout", test_fraction=0.3, **UD810)
    test_groups = {r.group for r in holdout.split("test")}
    assert len(test_groups) == 1 and not test_groups & {r.group for r in holdout.split("train")}
    assert group_split(holdout.records, 0.3) == holdout.records  # deterministic
    stratified = read_folder(ud810_dir, 1, label_pattern=r"A\d", test_fraction=1 / 3)
    assert Counter((r.label, r.split) for r in stratified.records) == {
        (a, s): n for a in ("A1", "A2", "A3") for s, n in (("train", 6), ("test", 3))
    }
    assert read_folder(ud810_dir, 1, label_pattern=r"A\d", test_fraction=1 / 3).records == stratified.records


def test_class_folders(ud810_dir: Path, tmp_path: Path) -> None:
    for clip in sorted(ud810_dir.glob("*.avi")):
        action = clip.name[3:5]
        (tmp_path / f"action_{action}").mkdir(exist_ok=True)
        (tmp_path / f"action_{action}" / f"clip_{clip.name[5:]}").symlink_to(clip)
    index = read_folder(tmp_path, 1, group_pattern=r"clip_(P\d)")
    assert index.classes == ["action_A1", "action_A2", "action_A3"]
    # the same file names in every class folder: ids become unique relative paths
    assert index.records[0].video_id == "action_A1__clip_P1T1"
    assert len({r.video_id for r in index.records}) == 27
    assert {r.group for r in index.split("test")} == {"P1"}


def test_bad_folders(ud810_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"PS7A1P1T1.avi: file name does not match --label-pattern 'B\\d'"):
        read_folder(ud810_dir, 1, label_pattern=r"B\d")
    with pytest.raises(ConfigError, match=r"--group-pattern 'P\(' is not a valid regular expression"):
        read_folder(ud810_dir, 1, label_pattern=r"A\d", group_pattern="P(")
    with pytest.raises(
        ConfigError, match=r"leave-one-group-out over \['P1', 'P2', 'P3'\] has splits 1, 2, 3; got --split 4"
    ):
        read_folder(ud810_dir, 4, **UD810)
    with pytest.raises(DatasetError, match=r"PS7A1P1T1.avi: video outside a class folder; pass --label-pattern"):
        read_folder(ud810_dir, 1)
    with pytest.raises(DatasetError, match=r"no video files found"):
        read_folder(tmp_path, 1)
    with pytest.raises(DatasetError, match=r"video folder not found"):
        read_folder(tmp_path / "missing", 1)
