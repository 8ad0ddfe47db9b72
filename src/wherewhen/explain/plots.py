"""The contact sheet: sampled frames with their heatmaps and boxes in a grid, the temporal-weight curve under them.

Thumbnails and captions are drawn with OpenCV; the curve with matplotlib's Agg canvas directly (no pyplot, so no
global backend state is touched).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wherewhen.explain.explanation import Explanation
from wherewhen.explain.frames import Display
from wherewhen.features.store import atomic_path
from wherewhen.video.sampling import uniform_indices

TEXT = (40, 40, 40)
GAP, CAPTION, TITLE = 6, 18, 30  # pixels


def sheet_rows(explanation: Explanation, max_frames: int = 16) -> list[int]:
    """The rows shown: all of them, or ``max_frames`` spread uniformly over a long video."""
    n = len(explanation.frames)
    return list(range(n)) if n <= max_frames else sorted(set(uniform_indices(n, max_frames)))


def _thumbnail(heated: np.ndarray, row: int, explanation: Explanation, display: Display, width: int) -> np.ndarray:
    """A frame that shows its heatmap, scaled to ``width`` (never up), with the attention box drawn."""
    scale = min(1.0, width / heated.shape[1])
    size = (max(1, round(heated.shape[1] * scale)), max(1, round(heated.shape[0] * scale)))
    out = cv2.resize(heated, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else heated.copy()
    sx, sy = size[0] / display.width, size[1] / display.height
    thumb_display = Display(size[0], size[1], display.sx * sx, display.sy * sy, None)
    frame = explanation.frames[row]
    if frame.box is not None:
        x1, y1, x2, y2 = thumb_display.box(frame.box)
        cv2.rectangle(out, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), (0, 255, 0), 2)
    return out


def sheet_columns(count: int, aspect: float) -> int:
    """Thumbnails per row: 4 for landscape frames, 6 for portrait ones, fewer when there are fewer frames."""
    return max(1, min(count, 4 if aspect >= 1.0 else 6))


def _put(image: np.ndarray, text: str, x: int, baseline: int, scale: float, thickness: int = 1) -> None:
    cv2.putText(image, text, (x, baseline), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, thickness, cv2.LINE_AA)


def thumbnail_grid(
    explanation: Explanation, heated: Mapping[int, np.ndarray], display: Display, width: int
) -> np.ndarray:
    """RGB image: thumbnails of the rows in ``heated`` ({row: frame with its heatmap}) with their boxes, in a grid,
    each under its caption."""
    rows = sorted(heated)
    thumbs = [_thumbnail(heated[r], r, explanation, display, width) for r in rows]
    th, tw = thumbs[0].shape[:2]
    cols = sheet_columns(len(rows), tw / th)
    cell_w, cell_h = tw + GAP, CAPTION + th + GAP
    grid = np.full((math.ceil(len(rows) / cols) * cell_h, cols * cell_w - GAP + 2 * GAP, 3), 255, dtype=np.uint8)
    for k, (row, thumb) in enumerate(zip(rows, thumbs, strict=True)):
        x, y = GAP + (k % cols) * cell_w, (k // cols) * cell_h
        f = explanation.frames[row]
        _put(grid, f"frame {f.index}  {f.time_s:.2f} s  w={f.weight:.3f}", x + 2, y + CAPTION - 5, 0.4)
        grid[y + CAPTION : y + CAPTION + th, x : x + tw] = thumb
    return grid


def timeline_plot(explanation: Explanation, shown: list[int], width: int, height: int = 170) -> np.ndarray:
    """RGB (height, width) image of the temporal weight of every row over time (matplotlib, no pyplot): attended
    segments shaded, the rows on the sheet circled, the uniform weight 1/T dashed."""
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((60 / width, 38 / height, 1 - 75 / width, 1 - 46 / height))
    times, weights = explanation.times, explanation.weights
    for seg in explanation.segments:
        ax.axvspan(seg.start_s, seg.end_s, color="tab:blue", alpha=0.15, lw=0)
    ax.plot(times, weights, color="tab:orange", lw=1.5, marker=".", ms=4, label="temporal weight")
    ax.plot(times[shown], weights[shown], ls="none", marker="o", ms=5, mfc="none", mec="black", mew=0.8)
    ax.axhline(1.0 / len(weights), color="gray", lw=0.8, ls="--", label="uniform 1/T")
    ax.set_xlim(0.0, max(explanation.video.duration, float(times.max())))
    ax.set_ylim(0.0, max(float(weights.max()), 2.0 / len(weights)) * 1.08)
    ax.set_xlabel("time (s)", fontsize=8, labelpad=1)
    ax.set_ylabel("temporal weight", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def write_contact_sheet(
    explanation: Explanation,
    path: Path,
    heated: Mapping[int, np.ndarray],
    display: Display,
    thumb_width: int = 256,
) -> Path:
    """PNG: a title with the top classes, the rows in ``heated`` ({row: frame at display size with its heatmap})
    with their boxes, and under them the temporal weight of every row over time."""
    grid = thumbnail_grid(explanation, heated, display, thumb_width)
    curve = timeline_plot(explanation, sorted(heated), grid.shape[1])
    title = np.full((TITLE, grid.shape[1], 3), 255, dtype=np.uint8)
    top3 = ", ".join(f"{c} {p:.0%}" for c, p in explanation.top5[:3])
    _put(title, f"{Path(explanation.video.path).name}: {explanation.model} says {top3}", GAP + 2, TITLE - 10, 0.55)
    sheet = np.concatenate([title, grid, curve])
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok, "OpenCV failed to encode a PNG"
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(png.tobytes())
    return Path(path)
