"""Probe a video file with PyAV: frame count, frame rate, duration, size and rotation, without decoding it all."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from wherewhen.errors import VideoError
from wherewhen.video.files import file_problem

MIN_FRAMES = 2
# Demuxers that accept almost any file: FFmpeg renders text files as "ANSI art" video.
_NOT_VIDEO_FORMATS = {"tty", "ansi", "bin", "txt", "srt", "webvtt", "ass", "subviewer"}


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream (sizes are after rotation)."""

    path: Path
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    rotation: int
    codec: str

    @property
    def frame_size(self) -> tuple[int, int]:
        return (self.width, self.height)


def open_container(path: str | Path) -> av.container.InputContainer:
    """Open a file for decoding; anything PyAV cannot open becomes a one-line VideoError."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise VideoError(path, problem)
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(path, f"not a readable video ({_ffmpeg_reason(exc)})") from None
    if container.format.name in _NOT_VIDEO_FORMATS:
        container.close()
        raise VideoError(path, f"not a video (FFmpeg reads it as {container.format.name!r})")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no"]
        container.close()
        raise VideoError(path, f"has no video stream ({', '.join(kinds)} streams only)")
    return container


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:160]


def _frame_rate(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return 0.0


def probe(path: str | Path) -> VideoInfo:
    """Read a video's metadata; frame count from the header, the demuxer index, or (last resort) duration x fps.

    Raises VideoError for a missing file, a file that is not a video, audio-only files, and videos with fewer than
    two frames.
    """
    path = Path(path)
    with open_container(path) as container:
        stream = container.streams.video[0]
        fps = _frame_rate(stream)
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        num_frames = int(stream.frames or 0)
        if num_frames <= 0:
            num_frames = sum(1 for e in stream.index_entries if not e.is_discard)
        if num_frames <= 0 and duration > 0 and fps > 0:
            num_frames = round(duration * fps)
        if fps <= 0 and duration > 0 and num_frames > 0:
            fps = num_frames / duration
        if duration <= 0 and fps > 0:
            duration = num_frames / fps
        rotation = _rotation(container, stream, path)
        width, height = stream.codec_context.width, stream.codec_context.height
    if num_frames < MIN_FRAMES:
        what = "no frames" if num_frames == 0 else "only one frame"
        raise VideoError(path, f"has {what}; a video needs at least {MIN_FRAMES}")
    if fps <= 0:
        raise VideoError(path, "frame rate unknown (no rate or duration in the container)")
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(path, num_frames, fps, duration, width, height, rotation, stream.codec_context.name)


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path) -> int:
    """Display rotation in degrees (0, 90, 180, 270), read from the first decodable frame's display matrix."""
    try:
        for frame in container.decode(stream):
            return round(-float(frame.rotation or 0)) % 360
    except av.FFmpegError as exc:
        raise VideoError(path, f"cannot decode the first frame ({_ffmpeg_reason(exc)})") from None
    raise VideoError(path, "has no frames (nothing decodable)")


def as_fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1001 * 1000)
