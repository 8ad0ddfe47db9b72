"""Bad video input: each case raises one VideoError whose one-line message names the file and the problem."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from videos import write_video
from wherewhen.errors import VideoError
from wherewhen.video.decode import read_frames
from wherewhen.video.probe import probe


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def assert_video_error(path: Path, fragment: str, indices: list[int] | None = None) -> None:
    with pytest.raises(VideoError) as caught:
        if indices is None:
            probe(path)
        else:
            read_frames(path, indices)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert fragment in message, message


def test_missing_file(tmp_path: Path) -> None:
    assert_video_error(tmp_path / "nope.mp4", "no such file")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_video_error(tmp_path / "empty.mp4", "empty file")


def test_text_file_is_not_a_video(tmp_path: Path, shared_data: Path) -> None:
    labels = shared_data / "videos" / "ud810_ps7" / "labels.txt"
    assert_video_error(labels, "not a video")
    (tmp_path / "notes.mp4").write_text("hello, not a video\n")
    assert_video_error(tmp_path / "notes.mp4", "not a readable video")


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert_video_error(tmp_path / "noise.avi", "not a readable video")


def test_audio_only(tmp_path: Path) -> None:
    assert_video_error(audio_only(tmp_path / "speech.m4a"), "no video stream")


def test_one_frame_video(tmp_path: Path) -> None:
    assert_video_error(write_video(tmp_path / "one.mp4", 1), "only one frame")


def test_zero_frame_video(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "zero.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()  # a valid AVI header with a video stream and no frames
    assert path.stat().st_size > 0
    assert_video_error(path, "has no frames")


def test_two_frames_are_enough(tmp_path: Path) -> None:
    path = write_video(tmp_path / "two.mp4", 2)
    assert probe(path).num_frames == 2
    assert read_frames(path, [0, 1]).shape == (2, 48, 64, 3)


def test_real_clip_truncated_halfway(tmp_path: Path, ud810_dir: Path) -> None:
    path = truncated_copy(ud810_dir / "PS7A1P1T1.avi", tmp_path / "PS7A1P1T1.avi")
    info = probe(path)  # the header survives: it still announces 109 frames
    assert info.num_frames == 109
    assert read_frames(path, [0, 10]).shape[0] == 2  # the first half decodes
    assert_video_error(path, "truncated or corrupt", indices=[0, 100])


def test_truncated_mp4_cannot_be_opened(tmp_path: Path, bikes_mp4: Path) -> None:
    assert_video_error(truncated_copy(bikes_mp4, tmp_path / "bikes.mp4"), "not a readable video")


def test_index_out_of_range(bikes_mp4: Path) -> None:
    assert_video_error(bikes_mp4, "out of range", indices=[250])
