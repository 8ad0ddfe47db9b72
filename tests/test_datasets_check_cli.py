"""`wherewhen data check` and `wherewhen data list` through the real entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wherewhen.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["data", "list"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == [
        "ucf101",
        "hmdb51",
        "ucf11",
        "thumos14",
        "ucf101_24",
        "kinetics",
        "path_label",
        "folder",
        "embedded",
    ]


def test_ud810_folder_all_present(ud810_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["data", "check", "folder", "--root", str(ud810_dir), "--label-pattern", r"A\d", "--group-pattern", r"P\d"]
    code, out, _ = run([*args, "--split", "3"], capsys)
    assert code == 0
    assert "3 classes, 27 videos, 3 groups" in out
    assert "ok: all 27 videos present, 27 decoded" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 5}
    assert [int(v) for v in rows["all"].split("│")[2:5]] == [18, 9, 27]
    assert [int(v) for v in rows["A2"].split("│")[2:5]] == [6, 3, 9]


def test_ucf101_lists_with_empty_video_root(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    splits = shared_data / "splits" / "ucf101"
    code, out, _ = run(["data", "check", "ucf101", "--root", str(tmp_path), "--splits", str(splits)], capsys)
    assert code == 1
    assert "101 classes, 13320 videos, 25 groups" in out
    assert "missing (13320):" in out
    assert f"{tmp_path}/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi" in out
    assert "... and 13300 more (--limit 0 lists all)" in out
    assert "problems: 13320 missing, 0 unreadable of 13320 videos" in out


def test_unreadable_video(ud810_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wave").mkdir()
    (tmp_path / "jump").mkdir()
    shutil.copy(ud810_dir / "PS7A1P1T1.avi", tmp_path / "wave" / "good.avi")
    (tmp_path / "jump" / "broken.avi").write_bytes((ud810_dir / "PS7A1P1T1.avi").read_bytes()[:4000])
    code, out, _ = run(["data", "check", "folder", "--root", str(tmp_path), "--test-fraction", "0"], capsys)
    assert code == 1
    assert "unreadable (1):" in out and "broken.avi: not a readable video" in out
    code, out, _ = run(
        ["data", "check", "folder", "--root", str(tmp_path), "--test-fraction", "0", "--no-probe"], capsys
    )
    assert code == 0 and "ok: all 2 videos present" in out


def test_inconsistent_split_files_stop_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "classInd.txt").write_bytes(b"1 Archery\r\n2 Bowling\r\n")
    (tmp_path / "trainlist01.txt").write_bytes(b"Archery/v_Archery_g08_c01.avi 1\r\nDiving/v_Diving_g08_c01.avi 3\r\n")
    (tmp_path / "testlist01.txt").write_bytes(b"Archery/v_Archery_g01_c01.avi\r\n")
    code, out, err = run(["data", "check", "ucf101", "--root", str(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err == f"error: {tmp_path}/trainlist01.txt:2: class 'Diving' is not in the class list (classInd.txt)\n"


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["data", "check", "ucf101", "--root", str(tmp_path), "--group-pattern", "P"], capsys)
    assert code == 2 and err == "error: format 'ucf101' does not take --group-pattern (it takes: --splits)\n"
    code, _, err = run(["data", "check", "ucf404", "--root", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("error: unknown dataset format 'ucf404'; choose from ucf101, hmdb51")
    code, _, err = run(["data", "check", "hmdb51", "--root", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "no <class>_test_split1.txt files found" in err and err.count("\n") == 1
