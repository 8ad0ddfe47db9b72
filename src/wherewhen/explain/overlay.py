"""The annotated MP4: every sampled frame with its heatmap, the predicted box, the label and confidence, and a
timeline strip of the temporal attention with a cursor at the current frame. H.264 through PyAV, written
atomically (a temporary file renamed into place)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from wherewhen.explain.explanation import Explanation, FrameExplanation
from wherewhen.explain.frames import Display
from wherewhen.explain.heatmap import HeatmapStyle, overlay_heatmap
from wherewhen.features.store import atomic_path

BOX_COLOUR = (0, 255, 0)
CROP_COLOUR = (200, 200, 200)
BAR_COLOUR = (255, 170, 0)
SEGMENT_COLOUR = (70, 110, 190)
STRIP_BACKGROUND = (28, 28, 28)
MIN_FPS, MAX_FPS = 1.0, 8.0


def playback_fps(explanation: Explanation) -> float:
    """Rows per second of the original video (the overlay lasts as long as the video), within [1, 8]."""
    duration = explanation.video.duration
    rate = len(explanation.frames) / duration if duration > 0 else MIN_FPS
    return float(min(MAX_FPS, max(MIN_FPS, rate)))


def _font_scale(width: int) -> float:
    return float(min(1.1, max(0.4, width / 900)))


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour=(255, 255, 255)) -> int:
    """Text on a dark box at ``origin`` (top-left); returns the y below it."""
    thickness = max(1, round(scale * 1.8))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = origin
    pad = max(2, round(4 * scale))
    cv2.rectangle(image, (x, y), (x + tw + 2 * pad, y + th + base + 2 * pad), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x + pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return y + th + base + 2 * pad


def annotate_frame(
    image: np.ndarray, frame: FrameExplanation, explanation: Explanation, display: Display, style: HeatmapStyle
) -> np.ndarray:
    """Heatmap over the crop region, the crop outline, the attention box and the prediction text."""
    crop = display.crop(explanation.crop)
    out = overlay_heatmap(image, frame.attention, crop, style)
    x, y, w, h = crop
    cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), CROP_COLOUR, 1, cv2.LINE_AA)
    scale = _font_scale(out.shape[1])
    if frame.box is not None:
        x1, y1, x2, y2 = display.box(frame.box)
        thickness = max(2, round(scale * 3))
        cv2.rectangle(out, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), BOX_COLOUR, thickness, cv2.LINE_AA)
    below = _text(out, f"{explanation.label}  {explanation.confidence:.0%}", (4, 4), scale)
    _text(out, f"frame {frame.index}  t={frame.time_s:.2f}s  w={frame.weight:.3f}", (4, below + 2), scale * 0.7)
    return out


def timeline_strip(explanation: Explanation, width: int, height: int, current: int | None = None) -> np.ndarray:
    """RGB (height, width, 3): bars of the temporal weights over the video's duration (normalized by their
    maximum), the predicted segments shaded, a cursor at row ``current``."""
    strip = np.full((height, width, 3), STRIP_BACKGROUND, dtype=np.uint8)
    duration = max(explanation.video.duration, max((f.time_s for f in explanation.frames), default=0.0), 1e-6)
    left, right, top, bottom = 6, 6, 6, 6
    span = max(1, width - left - right)

    def x_of(t: float) -> int:
        return left + round(min(max(t / duration, 0.0), 1.0) * span)

    for seg in explanation.segments:
        cv2.rectangle(strip, (x_of(seg.start_s), top), (x_of(seg.end_s), height - bottom), SEGMENT_COLOUR, cv2.FILLED)
    weights = explanation.weights
    peak = float(weights.max()) if weights.size else 0.0
    bar = max(1, round(0.6 * span / max(1, len(weights))))
    for f in explanation.frames:
        level = f.weight / peak if peak > 0 else 0.0
        x = x_of(f.time_s)
        y = height - bottom - round(level * (height - top - bottom))
        cv2.rectangle(strip, (x - bar // 2, y), (x - bar // 2 + bar - 1, height - bottom), BAR_COLOUR, cv2.FILLED)
    if current is not None:
        x = x_of(explanation.frames[current].time_s)
        cv2.line(strip, (x, 0), (x, height - 1), (255, 255, 255), 2)
    cv2.putText(strip, "when", (left + 2, top + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (170, 170, 170), 1, cv2.LINE_AA)
    return strip


def compose(
    image: np.ndarray, row: int, explanation: Explanation, display: Display, style: HeatmapStyle
) -> np.ndarray:
    """One output frame: the annotated frame above the timeline strip, padded to even sides (yuv420p)."""
    annotated = annotate_frame(image, explanation.frames[row], explanation, display, style)
    h, w = annotated.shape[:2]
    strip_h = max(40, round(h * 0.16))
    canvas_w, canvas_h = w + (w % 2), h + strip_h + ((h + strip_h) % 2)
    canvas = np.zeros((canvas_h, canvas_w, 3), dtype=np.uint8)
    canvas[:h, :w] = annotated
    canvas[h:, :] = timeline_strip(explanation, canvas_w, canvas_h - h, row)
    return canvas


def write_overlay_video(
    explanation: Explanation,
    path: Path,
    images: Iterable[np.ndarray],
    display: Display,
    style: HeatmapStyle | None = None,
    fps: float | None = None,
) -> Path:
    """Encode one output frame per row (``images`` yields the rows' frames at ``display`` size) as H.264 MP4."""
    style = style or HeatmapStyle()
    rate = Fraction(fps or playback_fps(explanation)).limit_denominator(1000)
    with atomic_path(Path(path)) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = None
            for row, image in enumerate(images):
                canvas = compose(image, row, explanation, display, style)
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate)
                    stream.height, stream.width = canvas.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": "23", "preset": "veryfast"}
                for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                    container.mux(packet)
            if stream is not None:
                for packet in stream.encode():
                    container.mux(packet)
    return Path(path)
