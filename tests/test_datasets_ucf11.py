"""UCF-11: class folders of group folders; leave-one-group-out and a fixed group split, groups never straddle."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherewhen.datasets.splits import leave_one_group_out_folds
from wherewhen.datasets.ucf11 import read_ucf11
from wherewhen.errors import ConfigError, DatasetError

ACTIONS = {"basketball": "shooting", "walking": "walk_dog"}


@pytest.fixture
def ucf11_root(tmp_path: Path) -> Path:
    """The UCF-11 layout with empty files: 2 classes x 25 groups x 2 clips, plus an Annotation folder."""
    for cls, action in ACTIONS.items():
        for g in range(1, 26):
            group = tmp_path / cls / f"v_{action}_{g:02d}"
            group.mkdir(parents=True)
            for c in (1, 2):
                (group / f"v_{action}_{g:02d}_{c:02d}.mpg").touch()
            (group / "Annotation").mkdir()
            (group / "Annotation" / "notes.xgtf").touch()
    return tmp_path


def test_leave_one_group_out(ucf11_root: Path) -> None:
    index = read_ucf11(ucf11_root, 7)
    assert index.classes == ["basketball", "walking"]
    assert len(index.records) == 2 * 25 * 2
    test = index.split("test")
    assert {r.group for r in test} == {"07"} and len(test) == 4
    assert "07" not in {r.group for r in index.split("train")}
    assert test[0].path == ucf11_root / "basketball" / "v_shooting_07" / "v_shooting_07_01.mpg"
    folds = leave_one_group_out_folds(index)
    assert [g for g, _ in folds] == [f"{g:02d}" for g in range(1, 26)]
    assert all(len(f.split("test")) == 4 and len(f.split("train")) == 96 for _, f in folds)


def test_fixed_split_keeps_groups_whole(ucf11_root: Path) -> None:
    index = read_ucf11(ucf11_root, "fixed")
    train, test = {r.group for r in index.split("train")}, {r.group for r in index.split("test")}
    assert test == {f"{g:02d}" for g in range(1, 8)}
    assert not train & test and len(train | test) == 25


def test_bad_layouts(ucf11_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"UCF-11 \(leave one group out\) has splits 1..25; got --split 26"):
        read_ucf11(ucf11_root, 26)
    (ucf11_root / "walking" / "stray.avi").touch()
    with pytest.raises(DatasetError, match=r"walking/stray.avi: UCF-11 videos must be inside a group folder"):
        read_ucf11(ucf11_root, 1)
    with pytest.raises(DatasetError, match=r"UCF-11 root not found"):
        read_ucf11(ucf11_root / "missing", 1)
