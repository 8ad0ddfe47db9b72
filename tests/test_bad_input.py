"""Bad input through the real entry point on real files: symbolic link loops, paths that stand where videos should
be but are not video files, pickles posing as checkpoints or weights, videos far from square or tiny, temporary
files a killed job left, and counts of one."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from videos import write_video
from wherewhen.atomic import STALE_AFTER_S
from wherewhen.cli import main
from wherewhen.datasets.benchmark import generate_benchmark
from wherewhen.datasets.benchmark.config import BenchmarkConfig
from wherewhen.features.store import FeatureStore


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(argv, capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def looping_link(path: Path) -> Path:
    path.symlink_to(path.name)
    return path


class Payload:
    """Unpickling this would call print: what a tampered checkpoint could run."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("ran code",))


@pytest.fixture(scope="module")
def run_dir(ud810_features: FeatureStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A softmax_cube run of one epoch on the real ud810 cubes, made through the CLI."""
    run = tmp_path_factory.mktemp("bad_input") / "run"
    main(["train", "--data", str(ud810_features.root), "--model", "softmax_cube", "--out", str(run), "-q",
          "--set", "train.epochs=1"])  # fmt: skip
    return run


def test_a_symlink_loop_given_to_extract_is_a_recorded_failure_and_the_batch_goes_on(
    tmp_path: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = looping_link(tmp_path / "loop.mp4")
    in_list = looping_link(tmp_path / "listed.avi")
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{in_list.name}\n{ud810_dir / 'PS7A2P1T1.avi'}\n")
    out = tmp_path / "store"
    argv = ["extract", str(loop), str(listing), str(ud810_dir / "PS7A1P1T1.avi"), "-o", str(out), "--frames", "2"]
    code, stdout, err = run([*argv, "--no-progress"], capsys)
    assert code == 1 and stdout.startswith("2 written, 0 already done, 2 failed of 4 videos")
    assert f"  {loop}: is a symbolic link loop" in err and f"  {in_list}: is a symbolic link loop" in err
    assert "Traceback" not in err
    store = FeatureStore(out)
    assert sorted(r.video_id for r in store.records()) == ["PS7A1P1T1", "PS7A2P1T1"]
    assert sorted(f["video_id"] for f in store.failures()) == ["listed", "loop"]

    looping_list = looping_link(tmp_path / "looping.txt")  # a list file is the job's input, not one video
    err = one_line_error(["extract", str(looping_list), "-o", str(tmp_path / "other")], capsys)
    assert err == f"error: {looping_list}: is a symbolic link loop (it leads back to itself)\n"


def test_paths_that_are_not_video_files_are_listed_by_extract_and_data_check(
    tmp_path: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "videos"
    for clip in sorted(ud810_dir.glob("PS7A?P[12]T1.avi"))[:4]:
        (root / clip.name[3:5]).mkdir(parents=True, exist_ok=True)
        (root / clip.name[3:5] / clip.name).symlink_to(clip)
    (root / "A1" / "frames.mp4").mkdir()
    (root / "A2" / "gone.avi").symlink_to(tmp_path / "nowhere.avi")
    looping_link(root / "A2" / "self")
    skipped = [
        f"{root / 'A1' / 'frames.mp4'}: is a directory, not a video file",
        f"{root / 'A2' / 'gone.avi'}: is a broken symbolic link (to {tmp_path / 'nowhere.avi'}, which does not exist)",
        f"{root / 'A2' / 'self'}: is a symbolic link loop (it leads back to itself)",
    ]
    for form in ([str(root)], ["-d", "folder", "--root", str(root)]):
        out = tmp_path / f"store{len(form)}"
        code, stdout, err = run(["extract", *form, "-o", str(out), "--frames", "2", "--no-progress"], capsys)
        assert code == 1 and stdout.startswith("4 written, 0 already done, 3 failed of 7 videos")
        assert err.splitlines() == ["failed (3):", *(f"  {line}" for line in skipped)]

    code, stdout, _ = run(["data", "check", "folder", "--root", str(root), "--no-probe"], capsys)
    assert code == 1 and "skipped, not video files (3):" in stdout
    assert all(line in stdout for line in skipped)
    assert "problems: 0 missing, 0 unreadable of 4 videos; 3 skipped; 0 annotations past the end" in stdout

    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "trainingSet.csv").write_text("A1/PS7A1P1T1.avi,A1\nA2/gone.avi,A2\nA1/frames.mp4,A1\nA2/lost.avi,A2\n")
    argv = ["data", "check", "path_label", "--root", str(root), "--annotations", str(lists), "--test-fraction", "0"]
    code, stdout, _ = run(argv, capsys)
    assert code == 1 and "missing (1):" in stdout and "unreadable (2):" in stdout
    assert skipped[0] in stdout and skipped[1] in stdout


def test_a_pickle_posing_as_a_checkpoint_or_weights_is_refused_in_our_words(
    run_dir: Path, tmp_path: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = shutil.copytree(run_dir, tmp_path / "run")
    checkpoint = run / "checkpoints" / "last.pt"
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "note": Payload()}, checkpoint)
    err = one_line_error(["train", "--resume", str(run), "--set", "train.epochs=2", "-q"], capsys)
    assert err == (
        f"error: {checkpoint}: truncated or not a wherewhen checkpoint (holds pickled Python objects (print) besides "
        "tensors; refused, since loading them could run code)\n"
    )
    checkpoint.write_bytes(b"junk")
    err = one_line_error(["train", "--resume", str(run), "-q"], capsys)
    assert f"error: {checkpoint}: truncated or not a wherewhen checkpoint (" in err

    weights = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(1), "extra": Payload()}, weights)
    argv = ["extract", str(ud810_dir / "PS7A1P1T1.avi"), "-o", str(tmp_path / "s"), "--weights", str(weights)]
    err = one_line_error(argv, capsys)
    assert "holds pickled Python objects (print) besides tensors; refused" in err
    assert "weights_only" not in err and "ran code" not in err


def test_explain_warns_when_it_saw_a_small_part_of_the_video_and_refuses_a_loop(
    run_dir: Path, tmp_path: Path, bikes_mp4: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = write_video(tmp_path / "wide.mp4", 12, size=(320, 96))
    tiny = write_video(tmp_path / "tiny.mp4", 12, size=(48, 40))
    for video, warning in [
        (wide, "warning: wide.mp4 is 320x96: the model saw only its centred 96x96 square (30% of the frame), "
               "enlarged 2.3 times to the backbone's 224 pixels; treat its explanation with care"),
        (tiny, "warning: tiny.mp4 is 48x40: the model saw its centred 40x40 square, enlarged 5.6 times to the "
               "backbone's 224 pixels; treat its explanation with care"),
        (bikes_mp4, "warning: bikes.mp4 is 640x272: the model saw only its centred 272x272 square (42% of the "
                    "frame); treat its explanation with care"),
        (ud810_dir / "PS7A1P1T1.avi", None),  # 640x480
    ]:  # fmt: skip
        code, out, err = run(["explain", str(run_dir), str(video), "-o", str(tmp_path / video.stem)], capsys)
        assert code == 0 and out.startswith(f"{video.name}: ")
        assert err.splitlines() == ([warning] if warning else [])

    loop = looping_link(tmp_path / "loop.mp4")
    err = one_line_error(["explain", str(run_dir), str(loop), "-o", str(tmp_path / "out")], capsys)
    assert err == f"error: {loop}: is a symbolic link loop (it leads back to itself)\n"
    assert not (tmp_path / "out").exists()


def leftovers(folder: Path) -> tuple[list[Path], list[Path]]:
    """Temporary files as a killed atomic write leaves them: ones untouched for longer than STALE_AFTER_S (a file
    and a staging folder) and one just written (it may belong to a job still writing)."""
    old = time.time() - STALE_AFTER_S - 5
    stale_file = folder / ".manifest.jsonl.k1x9.tmp"
    stale_file.write_text("half")
    stale_dir = folder / ".model.q2w3.tmp"
    (stale_dir / "sub").mkdir(parents=True)
    (stale_dir / "sub" / "weights.safetensors").write_bytes(b"half")
    for path in (stale_dir / "sub" / "weights.safetensors", stale_dir / "sub", stale_dir, stale_file):
        os.utime(path, (old, old))
    fresh = folder / ".store.json.z8z8.tmp"
    fresh.write_text("being written")
    return [stale_file, stale_dir], [fresh]


def test_stale_temporary_files_are_removed_on_the_next_run(
    run_dir: Path, tmp_path: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    clip = ["extract", str(ud810_dir / "PS7A1P1T1.avi"), "-o", str(store), "--frames", "2", "--no-progress"]
    assert run(clip, capsys)[0] == 0
    stale, fresh = leftovers(store / "features")
    assert run(clip, capsys)[1].startswith("0 written, 1 already done")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in fresh)

    resumed = shutil.copytree(run_dir, tmp_path / "run")
    stale, fresh = leftovers(resumed / "checkpoints")
    assert run(["train", "--resume", str(resumed), "--set", "train.epochs=2", "-q"], capsys)[0] == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in fresh)

    bench = tmp_path / "bench"
    config = BenchmarkConfig(classes=2, videos_per_class=2, frames=8, fps=4, width=64, height=64, distractors=1)
    generate_benchmark(bench, config, workers=1)
    stale, fresh = leftovers(bench)
    argv = ["generate", str(bench), "--workers", "1"]
    knobs = json.loads((bench / "benchmark.json").read_text())["config"]
    for name in ("classes", "videos_per_class", "frames", "fps", "width", "height", "distractors"):
        argv += ["--set", f"{name}={knobs[name]}"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and "0 rendered, 4 already there" in out
    assert not any(p.exists() for p in [*stale, *fresh])  # one generation writes a folder at a time


def test_counts_of_one_are_singular(tmp_path: Path, ud810_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "videos" / "A1").mkdir(parents=True)
    (tmp_path / "videos" / "A1" / "PS7A1P1T1.avi").symlink_to(ud810_dir / "PS7A1P1T1.avi")
    code, out, _ = run(["data", "check", "folder", "--root", str(tmp_path / "videos"), "--test-fraction", "0"], capsys)
    assert code == 0 and "1 class, 1 video" in out and "ok: 1 video present, 1 decoded" in out

    listing = tmp_path / "one.txt"
    listing.write_text(f"{ud810_dir / 'PS7A1P1T1.avi'},A1\n")
    argv = ["extract", str(listing), "-o", str(tmp_path / "store"), "--frames", "2", "--no-progress"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and out.startswith("1 written, 0 already done, 0 failed of 1 video in ")
    err = one_line_error(["train", "--data", str(tmp_path / "store"), "--out", str(tmp_path / "run")], capsys)
    assert "store lists 1 class; training needs at least 2" in err
