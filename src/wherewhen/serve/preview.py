"""A copy of a video that every browser plays: H.264 in MP4, at most ``MAX_SIDE`` pixels on its longer side.

Frame i of the video is shown from i / fps seconds on (its presentation time stamp is i in a time base of 1 / fps),
so the page finds the explained frame of the moment from ``currentTime`` alone. Frames are decoded, scaled (the
container's rotation applied, as the explanation's pixels are) and encoded one at a time, into a temporary file
renamed when complete; ``progress(done, total)`` hears of every ``EVERY`` frames and may raise to stop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2

from wherewhen.atomic import atomic_path
from wherewhen.explain.frames import display_for
from wherewhen.video.decode import iter_frames
from wherewhen.video.probe import as_fraction, probe

MAX_SIDE = 960
EVERY = 50


def write_preview(
    video: Path, out: Path, progress: Callable[[int, int], None] | None = None, max_side: int = MAX_SIDE
) -> Path:
    info = probe(video)
    display = display_for(info.width, info.height, max_side)
    width, height = display.width // 2 * 2, display.height // 2 * 2  # yuv420p needs even sides
    rate = as_fraction(info.fps)
    frames = iter_frames(video, range(info.num_frames), info=info, sizes=[display.shorter_side], threads=0)
    with atomic_path(out) as tmp, av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as box:
        stream = box.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(max(1, round(info.fps)))}
        try:
            for done, (index, images) in enumerate(frames, start=1):
                image = images[0][:height, :width]
                frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
                frame.pts = index  # in the encoder's time base, 1 / rate
                box.mux(stream.encode(frame))
                if progress is not None and done % EVERY == 0:
                    progress(done, info.num_frames)
        finally:
            frames.close()
        box.mux(stream.encode())
    return out
