"""The contact sheet: sampled frames with their heatmaps and boxes in a grid, the temporal-weight curve under them.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global backend state is touched).
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


def write_contact_sheet(
    explanation: Explanation,
    path: Path,
    images: Mapping[int, np.ndarray],
    display: Display,
    style: HeatmapStyle | None = None,
    thumb_width: int = 320,
    dpi: int = 100,
) -> Path:
    """PNG of the rows in ``images`` ({row: frame at display size}) and the timeline of all rows' weights."""
    style = style or HeatmapStyle()
    rows = sorted(images)
    n = max(1, len(rows))
    aspect = display.width / display.height
    cols = min(n, max(1, round(math.sqrt(n * 1.8 / aspect))))
    grid_rows = math.ceil(n / cols)
    thumb_h = thumb_width / aspect
    fig_w = cols * thumb_width / dpi
    fig_h = (grid_rows * (thumb_h + 22) + 190) / dpi
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    FigureCanvasAgg(fig)
    layout = fig.add_gridspec(grid_rows + 1, cols, height_ratios=[thumb_h + 22] * grid_rows + [170], hspace=0.25)
    for k, row in enumerate(rows):
        ax = fig.add_subplot(layout[k // cols, k % cols])
        ax.imshow(_thumbnail(images[row], row, explanation, display, style, thumb_width))
        f = explanation.frames[row]
        ax.set_title(f"#{f.index}  {f.time_s:.2f}s  w={f.weight:.3f}", fontsize=8, pad=2)
        ax.set_axis_off()
    ax = fig.add_subplot(layout[grid_rows, :])
    times, weights = explanation.times, explanation.weights
    for seg in explanation.segments:
        ax.axvspan(seg.start_s, seg.end_s, color="tab:blue", alpha=0.15, lw=0)
    ax.plot(times, weights, color="tab:orange", lw=1.5, marker=".", ms=4)
    shown = np.asarray(rows)
    ax.plot(times[shown], weights[shown], ls="none", marker="o", ms=5, mfc="none", mec="black", mew=0.8)
    ax.axhline(1.0 / len(weights), color="gray", lw=0.8, ls="--", label="uniform")
    ax.set_xlim(0.0, max(explanation.video.duration, float(times.max()) if times.size else 0.0))
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("temporal weight", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, loc="upper right", frameon=False)
    top = ", ".join(f"{c} {p:.0%}" for c, p in explanation.top5[:3])
    fig.suptitle(f"{Path(explanation.video.path).name}: {explanation.model} says {top}", fontsize=10)
    fig.subplots_adjust(left=0.06 if cols > 2 else 0.12, right=0.98, top=1 - 30 / (fig_h * dpi), bottom=50 / (fig_h * dpi))
    with atomic_path(Path(path)) as tmp:
        fig.savefig(str(tmp), format="png", dpi=dpi)
    return Path(path)
