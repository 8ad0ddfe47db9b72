"""Writing small test videos with PyAV (H.264 or MPEG-4 Part 2), for cases no shipped clip covers (rotation,
one frame, seeking, B pictures)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video(
    path: Path,
    frames: int,
    size: tuple[int, int] = (64, 48),
    fps: int | Fraction = 10,
    paint: Callable[[int], np.ndarray] | None = None,
    rotation: int | None = None,
    gop: int | None = None,
    codec: str = "libx264",
    b_frames: int | None = None,
) -> Path:
    """Write ``frames`` frames of (width, height) ``size``; ``paint(i)`` returns frame i as uint8 RGB.

    ``codec="mpeg4"`` gives MPEG-4 Part 2 (what DivX and Xvid AVIs hold), with ``b_frames`` B pictures in a row."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if b_frames is not None:
            stream.codec_context.max_b_frames = b_frames
        if gop:
            stream.options = {"g": str(gop)}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            image = paint(i) if paint else np.full((height, width, 3), (i * 37) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def counter_frame(i: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A frame whose content tells its index: a bright bar at a position and a level that depend on i."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = i % 256
    image[..., 1] = (i // 256) * 20
    x = (i * 7) % (width - 40)
    image[10:50, x : x + 40] = 255
    return image


def looped_clips(path: Path, sources: list[Path], min_frames: int, size: tuple[int, int] = (256, 144)) -> Path:
    """One H.264 video of at least ``min_frames`` frames at 25 fps: the frames of ``sources`` (real clips) one after
    the other, scaled to ``size`` (aspect not kept), looped until long enough (each source is decoded once)."""
    import cv2

    frames = []
    for source in sources:
        with av.open(str(source)) as clip:
            for frame in clip.decode(video=0):
                frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA))
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "50"}
        for i in range(-(-min_frames // len(frames)) * len(frames)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
