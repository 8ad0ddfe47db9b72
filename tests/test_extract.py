"""The extraction job on real clips: shapes and dtype, manifest, resume after a kill, failures, shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from test_video_errors import truncated_copy
from wherewhen.cli import main
from wherewhen.datasets.inputs import records_from_inputs
from wherewhen.errors import FeatureStoreError
from wherewhen.features.decoding import DecodeDataset
from wherewhen.features.extract import ExtractOptions, extract_videos
from wherewhen.features.store import LEGACY_PREPROCESSING, PREPROCESSING, FeatureStore, StoreInfo
from wherewhen.video.decode import read_frames
from wherewhen.video.flow import flow_image
from wherewhen.video.sampling import SamplingSpec

REPO = Path(__file__).resolve().parents[1]


def test_ud810_cubes_are_float16_16x1280x7x7(ud810_features: FeatureStore) -> None:
    records = ud810_features.records()
    assert len(records) == 27
    info = ud810_features.info
    assert (info.backbone, info.grid, info.channels, info.dtype) == ("efficientnet_lite0", 7, 1280, "float16")
    assert info.classes == ["A1", "A2", "A3"]
    for record in records:
        cube = ud810_features.load(record.video_id)["rgb"]
        assert cube.dtype == torch.float16 and cube.shape == (16, 1280, 7, 7)
        assert torch.isfinite(cube).all() and cube.abs().sum() > 0
        assert record.label == record.video_id[3:5] and record.group == record.video_id[5:7]
        assert len(record.frame_indices) == 16 and record.frame_size == (640, 480)
        assert record.split == ("test" if record.group == "P1" else "train")
        _x, y, w, h = record.crop
        assert (y, h) == (0.0, 480.0) and w == pytest.approx(480.0, abs=1)


def list_file(tmp_path: Path, clips: list[Path]) -> Path:
    path = tmp_path / "videos.txt"
    path.write_text("".join(f"{c},{c.name[3:5]}\n" for c in clips))
    return path


def finished(store: Path) -> list[Path]:
    return sorted(p for p in (store / "features").glob("*.safetensors") if not p.name.startswith("."))


def test_killed_extraction_resumes_to_the_same_files(tmp_path: Path, ud810_dir: Path) -> None:
    clips = sorted(ud810_dir.glob("PS7A?P2T?.avi"))
    listing = list_file(tmp_path, clips)
    index = records_from_inputs([listing])
    # decoding in a thread (the default on CPU) straight through; killed and resumed with a decoding process
    options = ExtractOptions(progress=False, workers=1, batch_size=16)
    straight = extract_videos(index.records, tmp_path / "straight", ExtractOptions(progress=False), index.classes)
    assert straight.written == 9

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "wherewhen", "extract", str(listing), "-o", str(out)]
    command += ["--workers", "1", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    process = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(finished(out)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = finished(out)
    assert 2 <= len(done_before) < 9, "the kill should land midway"
    for path in done_before:  # whatever exists under its final name is complete
        assert FeatureStore(out).read_record(path).video_id == path.stem

    resumed = extract_videos(index.records, out, options, classes=index.classes)
    assert resumed.skipped == len(done_before) and resumed.written == 9 - len(done_before)
    a, b = FeatureStore(tmp_path / "straight"), FeatureStore(out)
    assert [r.to_json() for r in a.records()] == [r.to_json() for r in b.records()]
    for record in a.records():
        assert torch.equal(a.load(record.video_id)["rgb"], b.load(record.video_id)["rgb"]), record.video_id


def test_truncated_clip_fails_clearly_while_the_others_finish(tmp_path: Path, ud810_dir: Path, capsys) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("PS7A1P3T1.avi", "PS7A2P3T1.avi"):
        (folder / name).write_bytes((ud810_dir / name).read_bytes())
    truncated_copy(ud810_dir / "PS7A3P3T1.avi", folder / "PS7A3P3T1.avi")
    (folder / "notes.mp4").write_text("not a video")
    out = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", str(folder), "-o", str(out), "--no-progress"])  # decoding in a thread
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "failed (2)" in err
    assert f"{folder / 'PS7A3P3T1.avi'}: stream ends after" in err and "truncated or corrupt" in err
    assert f"{folder / 'notes.mp4'}: not a readable video" in err
    store = FeatureStore(out)
    assert sorted(r.video_id for r in store.records()) == ["PS7A1P3T1", "PS7A2P3T1"]
    assert sorted(f["video_id"] for f in store.failures()) == ["PS7A3P3T1", "notes"]


def test_shards_split_the_work_and_together_cover_it(tmp_path: Path, ud810_dir: Path) -> None:
    index = records_from_inputs([list_file(tmp_path, sorted(ud810_dir.glob("PS7A1P?T1.avi")))])
    out = tmp_path / "store"
    spec = SamplingSpec(frames=4)
    first = extract_videos(index.records, out, ExtractOptions(sampling=spec, shard=(0, 2), progress=False, workers=0))
    second = extract_videos(index.records, out, ExtractOptions(sampling=spec, shard=(1, 2), progress=False, workers=0))
    assert (first.written, second.written) == (2, 1)
    assert len(FeatureStore(out).records()) == 3


def test_store_refuses_other_settings_and_truncated_files(tmp_path: Path, ud810_dir: Path) -> None:
    index = records_from_inputs([ud810_dir / "PS7A1P1T1.avi"])
    out = tmp_path / "store"
    extract_videos(index.records, out, ExtractOptions(sampling=SamplingSpec(frames=4), progress=False, workers=0))
    with pytest.raises(FeatureStoreError, match="different sampling"):
        extract_videos(index.records, out, ExtractOptions(sampling=SamplingSpec(frames=8), progress=False))
    path = FeatureStore(out).path_for("PS7A1P1T1")
    path.write_bytes(path.read_bytes()[:1000])
    store = FeatureStore(out)
    assert not store.is_done("PS7A1P1T1")
    with pytest.raises(FeatureStoreError, match="truncated"):
        store.load("PS7A1P1T1")
    again = extract_videos(
        index.records, out, ExtractOptions(sampling=SamplingSpec(frames=4), progress=False, workers=0)
    )
    assert again.written == 1 and store.load("PS7A1P1T1")["rgb"].shape == (4, 1280, 7, 7)


def test_cubes_from_the_older_preprocessing_are_not_mixed_in(tmp_path: Path, ud810_dir: Path) -> None:
    """A store.json without "preprocessing" was written when frames were scaled whole, then cropped: extraction
    refuses to add cubes made from the centred square to it, and says why."""
    index = records_from_inputs([ud810_dir / "PS7A1P1T1.avi"])
    out = tmp_path / "store"
    options = ExtractOptions(sampling=SamplingSpec(frames=4), progress=False, workers=0)
    extract_videos(index.records, out, options)
    store = FeatureStore(out)
    assert store.info.preprocessing == PREPROCESSING == "centred-square"
    old = json.loads(store.info_path.read_text())
    del old["preprocessing"]
    store.info_path.write_text(json.dumps(old))
    assert store.info.preprocessing == LEGACY_PREPROCESSING and store.info.compatible_with(
        StoreInfo.from_dict(old | {"preprocessing": PREPROCESSING})
    ) == ["preprocessing"]
    with pytest.raises(FeatureStoreError, match="different preprocessing"):
        extract_videos(index.records, out, options)


def test_sliding_windows_on_an_untrimmed_clip(tmp_path: Path, bikes_mp4: Path) -> None:
    index = records_from_inputs([bikes_mp4])
    spec = SamplingSpec("sliding", frames=8, rate=2.0, stride=4)
    extract_videos(index.records, tmp_path / "s", ExtractOptions(sampling=spec, progress=False, workers=0))
    store = FeatureStore(tmp_path / "s")
    (record,) = store.records()
    assert len(record.frame_indices) == 20 and len(record.clips) == 4
    assert store.load("bikes")["rgb"].shape == (20, 1280, 7, 7)


def test_flow_decoding_reads_each_frame_and_its_partner_in_one_pass(ud810_dir: Path) -> None:
    """A sampled frame and the next one (the previous for the last frame) make its flow image; decoding both lists
    in one pass gives the frames of two separate decodes."""
    record = records_from_inputs([ud810_dir / "PS7A2P1T1.avi"]).records[0]
    dataset = DecodeDataset([record], SamplingSpec(frames=4), 256, 224, flow="dis")
    decoded = dataset.decode(record)
    info, sampled = dataset.plan(record)
    indices = list(sampled.frame_indices)
    frames = read_frames(record.path, indices, info=info, shorter_side=dataset.square, threads=1)
    partners = read_frames(record.path, [i + 1 for i in indices], info=info, shorter_side=dataset.square, threads=1)
    assert decoded.frames is not None and decoded.flow_frames is not None
    assert np.array_equal(decoded.frames.numpy(), frames)
    want = np.stack([flow_image(a, b, method="dis") for a, b in zip(frames, partners, strict=True)])
    assert np.array_equal(decoded.flow_frames.numpy(), want) and want.std() > 0


def test_flow_cubes_beside_rgb_cubes(tmp_path: Path, ud810_dir: Path) -> None:
    index = records_from_inputs([ud810_dir / "PS7A2P1T1.avi"])
    options = ExtractOptions(sampling=SamplingSpec(frames=4), flow="dis", progress=False, workers=0)
    summary = extract_videos(index.records, tmp_path / "s", options)
    assert summary.written == 1 and summary.frames == 8
    store = FeatureStore(tmp_path / "s")
    assert store.info.flow is True
    cubes = store.load("PS7A2P1T1", keys=("rgb", "flow"))
    assert cubes["flow"].shape == cubes["rgb"].shape == (4, 1280, 7, 7)
    assert not torch.equal(cubes["flow"], cubes["rgb"])
    with pytest.raises(FeatureStoreError, match="different flow"):
        extract_videos(index.records, tmp_path / "s", ExtractOptions(sampling=SamplingSpec(frames=4), progress=False))
