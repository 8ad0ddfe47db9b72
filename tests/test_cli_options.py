"""Every command honours or refuses each option it is given, through the real entry point on real files: an option
that the form of input (or the sampling, or the device) does not use is a one-line error naming the form that does."""

from __future__ import annotations

from pathlib import Path

import pytest

from wherewhen.cli import main
from wherewhen.features.store import FeatureStore


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture()
def class_folders(tmp_path: Path, ud810_dir: Path) -> Path:
    """videos/A1, A2, A3: a folder per class of links to the real clips of persons P1 and P2 (six videos)."""
    root = tmp_path / "videos"
    for clip in sorted(ud810_dir.glob("PS7A?P[12]T1.avi")):
        (root / clip.name[3:5]).mkdir(parents=True, exist_ok=True)
        (root / clip.name[3:5] / clip.name).symlink_to(clip)
    return root


def splits_of(store: Path) -> dict[str, tuple[str | None, str, str | None]]:
    return {r.video_id: (r.label, r.split, r.group) for r in FeatureStore(store).records()}


def test_one_folder_as_argument_honours_the_folder_options(
    class_folders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: a positional folder with --group-pattern and --split holds that group out, exactly as
    `--dataset folder --root` does (it used to make a random 70/30 split without groups)."""
    common = ["--group-pattern", r"(P\d)", "--split", "2", "--frames", "2", "--no-progress"]
    code, out, _ = run(["extract", str(class_folders), "-o", str(tmp_path / "positional"), *common], capsys)
    assert code == 0 and out.startswith("6 written")
    positional = splits_of(tmp_path / "positional")
    assert positional == {
        f"PS7{a}{p}T1": (a, "test" if p == "P2" else "train", p) for a in ("A1", "A2", "A3") for p in ("P1", "P2")
    }
    argv = ["extract", "-d", "folder", "--root", str(class_folders), "-o", str(tmp_path / "dataset"), *common]
    assert run(argv, capsys)[0] == 0
    assert splits_of(tmp_path / "dataset") == positional

    flat = ["extract", str(class_folders / "A1"), "-o", str(tmp_path / "flat"), "--frames", "2", "--no-progress"]
    code, _, _ = run([*flat, "--label-pattern", r"A\d", "--test-fraction", "0.5", "--seed", "3"], capsys)
    assert code == 0
    assert sorted(split for _, split, _ in splits_of(tmp_path / "flat").values()) == ["test", "train"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{clip}", "--group-pattern", "P", "--split", "2"], "--split, --group-pattern are used with one folder"),
        (["{list}", "--seed", "1"], "--seed is used with one folder of videos"),
        (["{folder}", "{folder}", "--label-pattern", "A"], "not with video files, list files or several inputs"),
        (["{clip}", "--root", "{folder}"], "--root is used with --dataset FORMAT --root DIR"),
        (["{folder}", "--splits", "{folder}"], "--splits is used with --dataset FORMAT --root DIR"),
        (["{clip}", "-d", "folder", "--root", "{folder}"], "or --dataset FORMAT --root DIR; not both"),
        (["-d", "folder"], "--dataset needs --root DIR"),
        (["-d", "folder", "--root", "{folder}", "--annotations", "{list}"], "format 'folder' does not take"),
        (["{root}", "--group-pattern", "(P\\d)", "--test-fraction", "0.2"], "--test-fraction: --split 1 holds one"),
        (["{clip}", "--rate", "3"], "--rate is used by --sampling fps or sliding, not by --sampling uniform"),
        (["{clip}", "--sampling", "fps", "--frames", "4"], "--frames is used by --sampling uniform, tsn or sliding"),
        (["{clip}", "--sampling", "tsn", "--stride", "4"], "--stride is used by --sampling sliding, not by --sam"),
        (["{clip}", "--sampling", "sliding", "--max-frames", "9"], "--max-frames is used by --sampling fps"),
        (["{clip}", "--tsn-random"], "--tsn-random is used by --sampling tsn, not by --sampling uniform"),
        (["{clip}", "--device", "cpu", "--batch-size", "8"], "--batch-size is used on CUDA only"),
        (["{clip}", "--device", "tpu"], "--device='tpu' is not a device"),
        (["{clip}", "--shard", "3/2"], "--shard 3/2: need 0 <= INDEX < COUNT"),
    ],
)
def test_extract_refuses_options_its_input_does_not_use(
    args: list[str], message: str, class_folders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "videos.txt"
    clip = next((class_folders / "A1").iterdir())
    listing.write_text(f"{clip}\n")
    paths = {"{clip}": str(clip), "{list}": str(listing), "{folder}": str(class_folders / "A1")}
    paths["{root}"] = str(class_folders)
    out = tmp_path / "store"
    err = refused(["extract", *(paths.get(a, a) for a in args), "-o", str(out)], capsys)
    assert message in err
    assert not out.exists()


def test_the_honoured_sampling_options_reach_the_store(
    class_folders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = next((class_folders / "A1").iterdir())
    argv = ["extract", str(clip), "-o", str(tmp_path / "s"), "--sampling", "fps", "--rate", "1", "--max-frames", "3"]
    assert run([*argv, "--device", "cpu", "--workers", "0", "--no-progress"], capsys)[0] == 0
    store = FeatureStore(tmp_path / "s")
    assert store.info.sampling | {"resize": 0} == {"strategy": "fps", "rate": 1.0, "max_frames": 3, "resize": 0}
    assert len(store.records()[0].frame_indices) == 3


def test_data_check_refuses_options_the_format_or_split_does_not_use(
    ud810_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = ["data", "check", "folder", "--root", str(ud810_dir), "--label-pattern", r"A\d", "--no-probe"]
    err = refused([*folder, "--group-pattern", r"P\d", "--seed", "4", "--val-fraction", "0.1"], capsys)
    assert "--val-fraction, --seed: --split 1 holds one group out" in err
    code, out, _ = run([*folder, "--group-pattern", r"P\d", "--split", "holdout", "--seed", "4"], capsys)
    assert code == 0 and "3 groups" in out
    err = refused(["data", "check", "ucf11", "--root", str(tmp_path), "--classes", str(tmp_path)], capsys)
    assert "format 'ucf11' does not take --classes" in err

    lists = tmp_path / "lists"
    lists.mkdir()
    rows = [f"{c.name},{c.name[3:5]}\n" for c in sorted(ud810_dir.glob("*.avi"))]
    (lists / "trainingSet.csv").write_text("".join(rows[:20]))
    (lists / "testSet.csv").write_text("".join(rows[20:]))
    path_label = ["data", "check", "path_label", "--root", str(ud810_dir), "--annotations", str(lists), "--no-probe"]
    code, out, _ = run(path_label, capsys)
    assert code == 0 and "27 videos" in out
    err = refused([*path_label, "--test-fraction", "0.5", "--split", "2"], capsys)
    assert "--split 2, --test-fraction: the lists name their own val or test videos" in err


def test_evaluate_refuses_a_stride_without_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["evaluate", str(tmp_path), "--stride", "4"], capsys)
    assert "--stride is the step between --window sliding windows" in err


def test_train_refuses_options_the_resume_form_or_a_set_contradicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(["train", "--resume", str(tmp_path), "--model", "stam", "--out", str(tmp_path / "o")], capsys)
    assert "--model, --out are not used with --resume RUN" in err
    err = refused(["train", "--data", str(tmp_path), "--model", "stam", "--set", "model.name=tsn"], capsys)
    assert "--model is setting model.name=stam, against --set model.name=tsn" in err
    err = refused(["train", "--data", str(tmp_path), "-q", "--set", "train.progress=true"], capsys)
    assert "--quiet is setting train.progress=False" in err
    err = refused(["train", "--data", str(tmp_path), "--set", "optim.lr=1", "--set", "optim.lr=2"], capsys)
    assert "--set optim.lr is given twice" in err
    err = refused(["train", "--model", "stam"], capsys)
    assert "--data FEATURES is required" in err


def test_generate_refuses_a_knob_set_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["generate", str(tmp_path / "b"), "--set", "frames=8", "--set", "frames=16"], capsys)
    assert "--set frames is given twice" in err
    err = refused(["generate", str(tmp_path / "b"), "--set", "seed=2", "--seed", "3"], capsys)
    assert "--seed and --set seed=... both set the seed" in err
    err = refused(["generate", str(tmp_path / "b"), "--preset", "huge"], capsys)
    assert "unknown benchmark preset 'huge'" in err
    assert not (tmp_path / "b").exists()


def test_demo_refuses_models_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for models, message in [("", "--models names no model"), ("stam,nope", "unknown model 'nope'"),
                            ("stam,stam", "a model is named twice")]:  # fmt: skip
        err = refused(["demo", "--out", str(tmp_path / "demo"), "--models", models], capsys)
        assert message in err
    assert not (tmp_path / "demo").exists()


def test_explain_refuses_bad_drawing_options_before_loading_anything(
    tmp_path: Path, bikes_mp4: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["explain", str(tmp_path / "no-model"), str(bikes_mp4), "-o", str(tmp_path / "out")]
    for args, message in [(["--alpha", "2"], "--alpha must lie in [0, 1]"),
                          (["--percentile", "100"], "--percentile must lie in [0, 100)"),
                          (["--colormap", "sunset"], "unknown colormap 'sunset'"),
                          (["--fps", "0"], "--fps must lie in [0.1, 120]")]:  # fmt: skip
        assert message in refused([*base, *args], capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["version"], ["models"], ["backbones"], ["data", "list"]])
def test_commands_without_options_refuse_extra_arguments(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(command, capsys)
    assert code == 0 and out.strip()
    code, _, err = run([*command, "extra"], capsys)
    assert code == 2 and "unexpected extra argument(s) (extra)" in err
    code, _, err = run([*command, "--frames", "3"], capsys)
    assert code == 2 and "No such option: --frames" in err
