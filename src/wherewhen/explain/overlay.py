"""The annotated MP4: every explained frame with its heatmap, the predicted box, the ground-truth box when there is
one, the label and confidence, and a timeline of the temporal attention (with the ground-truth segments) and a
cursor at the current frame over its bottom band; the output keeps the frame's aspect. H.264 through PyAV, written
atomically (a temporary file renamed into place)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from wherewhen.atomic import atomic_path
from wherewhen.explain.explanation import Explanation, FrameExplanation
from wherewhen.explain.frames import Display

BOX_COLOUR = (0, 255, 0)
# Ground truth: magenta dashes with black gaps. The embedded benchmark's objects wear solid frames in every other
# strong colour (its actors yellow, the rest white, cyan, magenta, blue or red), so the two tones tell it apart.
TRUTH_COLOUR = (255, 0, 255)
GAP_COLOUR = (0, 0, 0)
CROP_COLOUR = (200, 200, 200)
BAR_COLOUR = (255, 170, 0)
SEGMENT_COLOUR = (70, 110, 190)
STRIP_BACKGROUND = (28, 28, 28)
UNIFORM_COLOUR = (160, 160, 160)
TIMELINE_HEIGHT = 0.14  # share of the frame height the timeline covers at the bottom
TIMELINE_ALPHA = 0.8
MIN_FPS, MAX_FPS = 1.0, 8.0
# x264 preset: ultrafast against libx264's default (medium) is >10 % of "explain stage: drawing" (RESULTS.md)
ENCODER_PRESET = "ultrafast"


def playback_fps(explanation: Explanation) -> float:
    """Rows per second of the original video (the overlay lasts as long as the video), within [1, 8]."""
    duration = explanation.video.duration
    rate = len(explanation.frames) / duration if duration > 0 else MIN_FPS
    return float(min(MAX_FPS, max(MIN_FPS, rate)))


def _font_scale(width: int) -> float:
    return float(min(1.1, max(0.4, width / 900)))


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> int:
    """Text on a dark box at ``origin`` (top-left); returns the y below it."""
    thickness = max(1, round(scale * 1.8))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = origin
    pad = max(2, round(4 * scale))
    cv2.rectangle(image, (x, y), (x + tw + 2 * pad, y + th + base + 2 * pad), (0, 0, 0), cv2.FILLED)
    cv2.putText(
        image, text, (x + pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA
    )
    return y + th + base + 2 * pad


def annotate_frame(
    heated: np.ndarray, frame: FrameExplanation, explanation: Explanation, display: Display
) -> np.ndarray:
    """On a copy of a frame that already shows its heatmap: the crop outline, the attention box, the prediction."""
    out = heated.copy()
    x, y, w, h = display.crop(explanation.crop)
    cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), CROP_COLOUR, 1, cv2.LINE_AA)
    scale = _font_scale(out.shape[1])
    if frame.box is not None:
        x1, y1, x2, y2 = display.box(frame.box)
        thickness = max(2, round(scale * 3))
        cv2.rectangle(out, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), BOX_COLOUR, thickness, cv2.LINE_AA)
    if frame.truth_box is not None:
        dashed_rectangle(out, display.box(frame.truth_box), thickness=max(2, round(scale * 3)))
    below = _text(out, f"{explanation.label}  {explanation.confidence:.0%}", (4, 4), scale)
    _text(out, f"frame {frame.index}  t={frame.time_s:.2f}s  w={frame.weight:.3f}", (4, below + 2), scale * 0.7)
    return out


def dashed_rectangle(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    colour: tuple[int, int, int] = TRUTH_COLOUR,
    thickness: int = 2,
    gap: tuple[int, int, int] | None = GAP_COLOUR,
) -> None:
    """The outline of ``box`` (x1, y1, x2, y2 in the image's pixels) in dashes of ``colour`` that start at every
    corner, the gaps between them filled with ``gap`` (left open with None)."""
    x1, y1, x2, y2 = round(box[0]), round(box[1]), round(box[2]) - 1, round(box[3]) - 1
    if gap is not None:
        cv2.rectangle(image, (x1, y1), (x2, y2), gap, thickness)
    dash = max(4, 3 * thickness)
    for (ax, ay), (bx, by) in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, length + 1, 2 * dash):
            end = min(start + dash, length)
            t0, t1 = start / max(length, 1), end / max(length, 1)
            p0 = (round(ax + (bx - ax) * t0), round(ay + (by - ay) * t0))
            p1 = (round(ax + (bx - ax) * t1), round(ay + (by - ay) * t1))
            cv2.line(image, p0, p1, colour, thickness)


def strip_x(explanation: Explanation, width: int, height: int) -> Callable[[float], int]:
    """The x on a ``timeline_strip`` of that size of a time in seconds."""
    times = explanation.times
    duration = max(explanation.video.duration, float(times.max()) if times.size else 0.0, 1e-6)
    pad = max(2, height // 10)
    span = max(1, width - 2 * pad)
    return lambda t: pad + round(min(max(t / duration, 0.0), 1.0) * span)


def timeline_strip(explanation: Explanation, width: int, height: int, current: int | None = None) -> np.ndarray:
    """RGB (height, width, 3): a bar per row for its temporal weight over the video's duration, the attended
    segments shaded, the ground-truth segments bracketed in the ground truth's colour, a grey line at the uniform
    weight 1/T (drawn at half height or lower, so uniform attention never looks like a peak), a cursor at row
    ``current``."""
    strip = np.full((height, width, 3), STRIP_BACKGROUND, dtype=np.uint8)
    times, weights = explanation.times, explanation.weights
    x_of = strip_x(explanation, width, height)
    pad = max(2, height // 10)
    span, top, bottom = max(1, width - 2 * pad), pad, height - pad
    uniform = 1.0 / max(1, len(weights))
    scale = max(float(weights.max()) if weights.size else 0.0, 2.0 * uniform)

    def y_of(w: float) -> int:
        return bottom - round(min(w / scale, 1.0) * (bottom - top))

    for seg in explanation.segments:
        cv2.rectangle(strip, (x_of(seg.start_s), top), (x_of(seg.end_s), bottom), SEGMENT_COLOUR, cv2.FILLED)
    bar = max(1, round(0.6 * span / max(1, len(weights))))
    for t, w in zip(times, weights, strict=True):
        x = x_of(float(t)) - bar // 2
        cv2.rectangle(strip, (x, y_of(float(w))), (x + bar - 1, bottom), BAR_COLOUR, cv2.FILLED)
    cv2.line(strip, (pad, y_of(uniform)), (pad + span, y_of(uniform)), UNIFORM_COLOUR, 1)
    for start, end in explanation.truth_segments:
        x0, x1 = x_of(start), x_of(end)
        cv2.polylines(
            strip, [np.array([[x0, bottom], [x0, 0], [x1, 0], [x1, bottom]], np.int32)], False, TRUTH_COLOUR, 2
        )
    if current is not None:
        draw_cursor(strip, x_of(float(times[current])))
    return strip


def draw_cursor(strip: np.ndarray, x: int) -> None:
    cv2.line(strip, (x, 0), (x, strip.shape[0] - 1), (255, 255, 255), 2)


def compose(heated: np.ndarray, row: int, explanation: Explanation, display: Display) -> np.ndarray:
    """One output frame at the frame's own aspect: the annotated frame with the timeline (its cursor at ``row``)
    blended over its bottom band, padded by a pixel where a side is odd (yuv420p needs even sides)."""
    annotated = annotate_frame(heated, explanation.frames[row], explanation, display)
    h, w = annotated.shape[:2]
    band = min(h, max(24, round(h * TIMELINE_HEIGHT)))
    strip = timeline_strip(explanation, w, band, current=row)
    below, over = annotated[h - band :].astype(np.float32), strip.astype(np.float32)
    annotated[h - band :] = np.clip((1 - TIMELINE_ALPHA) * below + TIMELINE_ALPHA * over + 0.5, 0, 255)
    canvas = np.zeros((h + h % 2, w + w % 2, 3), dtype=np.uint8)
    canvas[:h, :w] = annotated
    return canvas


def encode_mp4(path: Path, frames: Iterable[np.ndarray], rate: Fraction) -> Path:
    """Encode RGB frames of even sides as H.264 MP4 (yuv420p) at ``rate`` frames per second, atomically."""
    with atomic_path(Path(path)) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = None
        for canvas in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.height, stream.width = canvas.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "23", "preset": ENCODER_PRESET}
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return Path(path)


def overlay_rate(explanation: Explanation, fps: float | None = None) -> Fraction:
    """The MP4's frame rate: ``fps``, or the sampled rows' own pace (``playback_fps``)."""
    return Fraction(fps or playback_fps(explanation)).limit_denominator(1000)
