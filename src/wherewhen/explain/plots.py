"""The contact sheet: sampled frames with their heatmaps and boxes (the ground truth's dashed) in a grid, the
temporal-weight curve under them (with the ground-truth segments).

Everything is drawn with OpenCV, the curve's axes too: matplotlib's import alone is over 10 % of "explain end to end"
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from wherewhen.atomic import atomic_path
from wherewhen.explain.explanation import Explanation
from wherewhen.explain.frames import Display
from wherewhen.explain.overlay import TRUTH_COLOUR, dashed_rectangle
from wherewhen.video.sampling import uniform_indices

TEXT = (40, 40, 40)
GAP, CAPTION, TITLE = 6, 18, 30  # pixels
CURVE_COLOUR = (255, 127, 14)  # matplotlib's tab:orange
SEGMENT_COLOUR = (31, 119, 180)  # tab:blue, blended at SEGMENT_ALPHA
SEGMENT_ALPHA = 0.15
TRUTH_BAND = 6  # height in pixels of the ground-truth segments' band along the top of the axes
UNIFORM_COLOUR = (128, 128, 128)
AXES_COLOUR = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def sheet_rows(explanation: Explanation, max_frames: int = 16) -> list[int]:
    """The rows shown: all of them, or ``max_frames`` spread uniformly over a long video."""
    n = len(explanation.frames)
    return list(range(n)) if n <= max_frames else sorted(set(uniform_indices(n, max_frames)))


def thumbnail(heated: np.ndarray, row: int, explanation: Explanation, display: Display, width: int) -> np.ndarray:
    """A frame that shows its heatmap, scaled to ``width`` (never up), with the attention box and the ground-truth
    box (dashed) drawn."""
    scale = min(1.0, width / heated.shape[1])
    size = (max(1, round(heated.shape[1] * scale)), max(1, round(heated.shape[0] * scale)))
    out = cv2.resize(heated, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else heated.copy()
    sx, sy = size[0] / display.width, size[1] / display.height
    thumb_display = Display(size[0], size[1], display.sx * sx, display.sy * sy, None)
    frame = explanation.frames[row]
    if frame.box is not None:
        x1, y1, x2, y2 = thumb_display.box(frame.box)
        cv2.rectangle(out, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), (0, 255, 0), 2)
    if frame.truth_box is not None:
        dashed_rectangle(out, thumb_display.box(frame.truth_box))
    return out


def sheet_columns(count: int, aspect: float) -> int:
    """Thumbnails per row: 4 for landscape frames, 6 for portrait ones, fewer when there are fewer frames."""
    return max(1, min(count, 4 if aspect >= 1.0 else 6))


def _put(image: np.ndarray, text: str, x: int, baseline: int, scale: float, thickness: int = 1) -> None:
    cv2.putText(image, text, (x, baseline), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, thickness, cv2.LINE_AA)


def thumbnail_grid(explanation: Explanation, thumbs: Mapping[int, np.ndarray]) -> np.ndarray:
    """RGB image: the ``thumbs`` ({row: ``thumbnail``}) in a grid, each under its caption."""
    rows = sorted(thumbs)
    th, tw = thumbs[rows[0]].shape[:2]
    cols = sheet_columns(len(rows), tw / th)
    cell_w, cell_h = tw + GAP, CAPTION + th + GAP
    grid = np.full((math.ceil(len(rows) / cols) * cell_h, cols * cell_w - GAP + 2 * GAP, 3), 255, dtype=np.uint8)
    for k, row in enumerate(rows):
        x, y = GAP + (k % cols) * cell_w, (k // cols) * cell_h
        f = explanation.frames[row]
        _put(grid, f"frame {f.index}  {f.time_s:.2f} s  w={f.weight:.3f}", x + 2, y + CAPTION - 5, 0.4)
        grid[y + CAPTION : y + CAPTION + th, x : x + tw] = thumbs[row]
    return grid


def nice_ticks(upper: float, target: int = 6) -> tuple[list[float], int]:
    """Ticks 0, step, 2 step, ... up to ``upper`` with step 1, 2, 2.5 or 5 times a power of ten, about ``target``
    of them; and the decimals their labels need."""
    raw = max(upper, 1e-12) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    mantissa = next(m for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))
    step = mantissa * magnitude
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if mantissa == 2.5 else 0))
    return [k * step for k in range(math.floor(upper / step + 1e-9) + 1)], decimals


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), _ = cv2.getTextSize(text, FONT, scale, 1)
    return w, h


def _dashed_line(image: np.ndarray, x0: int, x1: int, y: int, colour: tuple[int, int, int], dash: int = 4) -> None:
    for x in range(x0, x1, 2 * dash):
        cv2.line(image, (x, y), (min(x + dash, x1), y), colour, 1, cv2.LINE_AA)


def _vertical_text(image: np.ndarray, text: str, x: int, y_centre: int, scale: float) -> None:
    """``text`` rotated a quarter turn counter-clockwise, its left edge at ``x``, centred on ``y_centre``."""
    w, h = _text_size(text, scale)
    label = np.full((h + 4, w, 3), 255, dtype=np.uint8)
    cv2.putText(label, text, (0, h + 1), FONT, scale, TEXT, 1, cv2.LINE_AA)
    turned = np.rot90(label)
    top = max(0, y_centre - turned.shape[0] // 2)
    part = turned[: image.shape[0] - top, : image.shape[1] - x]
    image[top : top + part.shape[0], x : x + part.shape[1]] = part


def timeline_plot(explanation: Explanation, shown: list[int], width: int, height: int = 170) -> np.ndarray:
    """RGB (height, width) image of the temporal weight of every row over time: attended segments shaded, the
    ground-truth segments as a band along the top of the axes with their edges marked, the rows on the sheet
    circled, the uniform weight 1/T dashed, labelled axes and a legend."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 60, width - 15, 8, height - 38
    times, weights = explanation.times, explanation.weights
    x_max = max(explanation.video.duration, float(times.max()) if times.size else 0.0, 1e-6)
    uniform = 1.0 / max(1, len(weights))
    y_max = max(float(weights.max()) if weights.size else 0.0, 2.0 * uniform) * 1.08

    def x_of(t: float) -> int:
        return left + round(t / x_max * (right - left))

    def y_of(w: float) -> int:
        return bottom - round(w / y_max * (bottom - top))

    for seg in explanation.segments:  # shaded at SEGMENT_ALPHA over the white axes
        x0, x1 = max(left, x_of(seg.start_s)), min(right, x_of(seg.end_s))
        area = image[top : bottom + 1, x0 : x1 + 1]
        area[:] = np.round((1 - SEGMENT_ALPHA) * area + SEGMENT_ALPHA * np.array(SEGMENT_COLOUR)).astype(np.uint8)
    for start, end in explanation.truth_segments:
        x0, x1 = max(left, x_of(start)), min(right, x_of(end))
        if x0 > x1:
            continue
        cv2.rectangle(image, (x0, top), (x1, top + TRUTH_BAND), TRUTH_COLOUR, cv2.FILLED)
        for x in (x0, x1):
            cv2.line(image, (x, top), (x, bottom), TRUTH_COLOUR, 1)
    _dashed_line(image, left, right, y_of(uniform), UNIFORM_COLOUR)
    points = np.array([[x_of(float(t)), y_of(float(w))] for t, w in zip(times, weights, strict=True)], np.int32)
    cv2.polylines(image, [points.reshape(-1, 1, 2)], False, CURVE_COLOUR, 2, cv2.LINE_AA)
    for x, y in points:
        cv2.circle(image, (int(x), int(y)), 2, CURVE_COLOUR, cv2.FILLED, cv2.LINE_AA)
    for row in shown:
        cv2.circle(image, (int(points[row, 0]), int(points[row, 1])), 5, AXES_COLOUR, 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (right, bottom), AXES_COLOUR, 1)

    scale = 0.33
    ticks, decimals = nice_ticks(x_max, target=max(2, min(10, (right - left) // 90)))
    for t in ticks:
        x, label = x_of(t), f"{t:.{decimals}f}"
        cv2.line(image, (x, bottom), (x, bottom + 3), AXES_COLOUR, 1)
        w, h = _text_size(label, scale)
        cv2.putText(image, label, (x - w // 2, bottom + 7 + h), FONT, scale, TEXT, 1, cv2.LINE_AA)
    w, h = _text_size("time (s)", 0.4)
    cv2.putText(image, "time (s)", ((left + right - w) // 2, height - 6), FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    ticks, decimals = nice_ticks(y_max)
    for v in ticks:
        y, label = y_of(v), f"{v:.{decimals}f}"
        cv2.line(image, (left - 3, y), (left, y), AXES_COLOUR, 1)
        w, h = _text_size(label, scale)
        cv2.putText(image, label, (left - 6 - w, y + h // 2), FONT, scale, TEXT, 1, cv2.LINE_AA)
    _vertical_text(image, "temporal weight", 4, (top + bottom) // 2, 0.4)

    truth = bool(explanation.truth_segments)
    _legend(image, right, top + (TRUTH_BAND if truth else 0), scale, truth)
    return image


def _legend(image: np.ndarray, right: int, top: int, scale: float, truth: bool) -> None:
    """The timeline plot's legend, right-aligned at ``right`` below ``top``."""
    entries = [("temporal weight", CURVE_COLOUR, "curve"), ("uniform 1/T", UNIFORM_COLOUR, "dashed")]
    if truth:
        entries.append(("ground-truth segment", TRUTH_COLOUR, "band"))
    text_w = max(_text_size(name, scale)[0] for name, _, _ in entries)
    x0 = right - text_w - 40
    for k, (name, colour, mark) in enumerate(entries):
        y = top + 12 + 14 * k
        if mark == "dashed":
            _dashed_line(image, x0, x0 + 22, y, colour, dash=3)
        elif mark == "band":
            cv2.rectangle(image, (x0, y - TRUTH_BAND // 2), (x0 + 22, y + TRUTH_BAND // 2), colour, cv2.FILLED)
        else:
            cv2.line(image, (x0, y), (x0 + 22, y), colour, 2, cv2.LINE_AA)
            cv2.circle(image, (x0 + 11, y), 2, colour, cv2.FILLED, cv2.LINE_AA)
        cv2.putText(image, name, (x0 + 28, y + _text_size(name, scale)[1] // 2), FONT, scale, TEXT, 1, cv2.LINE_AA)


def contact_sheet(explanation: Explanation, thumbs: Mapping[int, np.ndarray]) -> np.ndarray:
    """RGB image: a title with the top classes, the ``thumbs`` ({row: ``thumbnail``}) in a grid, and under them
    the temporal weight of every row over time."""
    grid = thumbnail_grid(explanation, thumbs)
    curve = timeline_plot(explanation, sorted(thumbs), grid.shape[1])
    title = np.full((TITLE, grid.shape[1], 3), 255, dtype=np.uint8)
    top3 = ", ".join(f"{c} {p:.0%}" for c, p in explanation.top5[:3])
    _put(title, f"{Path(explanation.video.path).name}: {explanation.model} says {top3}", GAP + 2, TITLE - 10, 0.55)
    return np.concatenate([title, grid, curve])


def write_png(image: np.ndarray, path: Path) -> Path:
    """An RGB image as a PNG, atomically."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok, "OpenCV failed to encode a PNG"
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(png.tobytes())
    return Path(path)
