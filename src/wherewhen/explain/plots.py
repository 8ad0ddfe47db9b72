"""The contact sheet: sampled frames with their heatmaps and boxes in a grid, the temporal-weight curve under them.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global backend state is touched).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wherewhen.explain.explanation import Explanation
from wherewhen.explain.frames import Display
from wherewhen.explain.heatmap import HeatmapStyle, overlay_heatmap
from wherewhen.features.store import atomic_path
from wherewhen.video.sampling import uniform_indices


def sheet_rows(explanation: Explanation, max_frames: int = 16) -> list[int]:
    """The rows shown: all of them, or ``max_frames`` spread uniformly over a long video."""
    n = len(explanation.frames)
    return list(range(n)) if n <= max_frames else sorted(set(uniform_indices(n, max_frames)))


def _thumbnail(
    image: np.ndarray, row: int, explanation: Explanation, display: Display, style: HeatmapStyle, width: int
) -> np.ndarray:
    scale = min(1.0, width / image.shape[1])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else image
    sx, sy = size[0] / display.width, size[1] / display.height
    thumb_display = Display(size[0], size[1], display.sx * sx, display.sy * sy, None)
    frame = explanation.frames[row]
    out = overlay_heatmap(small, frame.attention, thumb_display.crop(explanation.crop), style)
    if frame.box is not None:
        x1, y1, x2, y2 = thumb_display.box(frame.box)
        cv2.rectangle(out, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), (0, 255, 0), 2)
    return out


def sheet_columns(count: int, aspect: float) -> int:
    """Thumbnails per row: 4 for landscape frames, 6 for portrait ones, fewer when there are fewer frames."""
    return max(1, min(count, 4 if aspect >= 1.0 else 6))


def write_contact_sheet(
    explanation: Explanation,
    path: Path,
    images: Mapping[int, np.ndarray],
    display: Display,
    style: HeatmapStyle | None = None,
    thumb_width: int = 320,
    dpi: int = 100,
) -> Path:
    """PNG of the rows in ``images`` ({row: frame at display size}) in a grid, each with its heatmap and box, and
    under them the temporal weight of every row over time (attended segments shaded, the shown rows circled)."""
    style = style or HeatmapStyle()
    rows = sorted(images)
    aspect = display.width / display.height
    cols = sheet_columns(len(rows), aspect)
    grid_rows = max(1, math.ceil(len(rows) / cols))
    thumb_h = round(thumb_width / aspect)
    margin, gap, caption, title, plot_h, plot_pad = 10, 6, 16, 28, 150, 42  # pixels
    width = 2 * margin + cols * thumb_width + (cols - 1) * gap
    height = title + grid_rows * (caption + thumb_h + gap) + plot_h + plot_pad + margin
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)

    def axes(x: float, y_top: float, w: float, h: float) -> Axes:
        """Axes at pixel position (x, y from the top), size w x h."""
        return fig.add_axes((x / width, 1 - (y_top + h) / height, w / width, h / height))

    for k, row in enumerate(rows):
        r, c = divmod(k, cols)
        top = title + r * (caption + thumb_h + gap) + caption
        ax = axes(margin + c * (thumb_width + gap), top, thumb_width, thumb_h)
        ax.imshow(_thumbnail(images[row], row, explanation, display, style, thumb_width), aspect="auto")
        f = explanation.frames[row]
        ax.set_title(f"frame {f.index}   {f.time_s:.2f} s   w={f.weight:.3f}", fontsize=8, pad=2)
        ax.set_axis_off()
    plot_top = title + grid_rows * (caption + thumb_h + gap) + 4
    ax = axes(margin + 50, plot_top, width - 2 * margin - 60, plot_h)
    times, weights = explanation.times, explanation.weights
    for seg in explanation.segments:
        ax.axvspan(seg.start_s, seg.end_s, color="tab:blue", alpha=0.15, lw=0)
    ax.plot(times, weights, color="tab:orange", lw=1.5, marker=".", ms=4, label="temporal weight")
    shown = np.asarray(rows, dtype=np.int64)
    ax.plot(times[shown], weights[shown], ls="none", marker="o", ms=5, mfc="none", mec="black", mew=0.8)
    ax.axhline(1.0 / len(weights), color="gray", lw=0.8, ls="--", label="uniform 1/T")
    ax.set_xlim(0.0, max(explanation.video.duration, float(times.max()) if times.size else 0.0))
    ax.set_ylim(0.0, max(float(weights.max()), 2.0 / len(weights)) * 1.08)
    ax.set_xlabel("time (s)", fontsize=8, labelpad=1)
    ax.set_ylabel("temporal weight", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    top3 = ", ".join(f"{c} {p:.0%}" for c, p in explanation.top5[:3])
    fig.text(
        0.5,
        1 - 16 / height,
        f"{Path(explanation.video.path).name}: {explanation.model} says {top3}",
        ha="center",
        va="center",
        fontsize=10,
    )
    with atomic_path(Path(path)) as tmp:
        fig.savefig(str(tmp), format="png", dpi=dpi)
    return Path(path)
