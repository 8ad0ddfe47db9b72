"""Attention -> a box per frame and segments in time, for showing (the same rules as the localization metrics).

Box of a (K, K) map over the crop (x, y, w, h): divide by the maximum, keep cells >= threshold, take the tightest
box of whole cells around them; cell (r, c) covers ``[x + c w/K, x + (c+1) w/K] x [y + r h/K, y + (r+1) h/K]``;
clip to the frame.

Segments of the temporal weights w_1..w_T at times t_1..t_T: keep rows with ``w_i / max(w) >= threshold``, join
consecutive kept rows; a run of rows i..j spans [b_i, b_{j+1}) where the row boundaries b are the midpoints between
consecutive row times, the first and last extended by half their neighbour spacing, clipped to [0, duration].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wherewhen.explain.explanation import Box, Segment


def attention_box(
    attention: np.ndarray, crop: Sequence[float], frame_size: Sequence[float], threshold: float = 0.5
) -> Box | None:
    """(x1, y1, x2, y2) in original pixels of the cells with attention / max >= threshold; None for an empty map."""
    a = np.asarray(attention, dtype=np.float64)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0 or not np.isfinite(peak):
        return None
    kept = a / peak >= threshold
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    n_rows, n_cols = a.shape
    cx, cy, cw, ch = (float(v) for v in crop)
    w, h = float(frame_size[0]), float(frame_size[1])
    x1 = min(max(cx + cols[0] * cw / n_cols, 0.0), w)
    x2 = min(max(cx + (cols[-1] + 1) * cw / n_cols, 0.0), w)
    y1 = min(max(cy + rows[0] * ch / n_rows, 0.0), h)
    y2 = min(max(cy + (rows[-1] + 1) * ch / n_rows, 0.0), h)
    return (x1, y1, x2, y2)


def row_boundaries(times: Sequence[float], duration: float) -> np.ndarray:
    """(T + 1,) seconds: row i covers [b_i, b_{i+1})."""
    t = np.asarray(times, dtype=np.float64)
    if t.size == 1:
        return np.array([0.0, max(duration, t[0])])
    mid = (t[1:] + t[:-1]) / 2
    b = np.concatenate([[t[0] - (t[1] - t[0]) / 2], mid, [t[-1] + (t[-1] - t[-2]) / 2]])
    return np.clip(b, 0.0, duration if duration > 0 else np.inf)


def temporal_segments(
    weights: Sequence[float], times: Sequence[float], duration: float, threshold: float = 0.5
) -> list[Segment]:
    """Runs of consecutive rows with weight / max >= threshold, in seconds, scored by their mean ratio."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0 or w.max() <= 0:
        return []
    ratio = w / w.max()
    kept = ratio >= threshold
    edges = np.diff(np.concatenate([[0], kept.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends are exclusive
    b = row_boundaries(times, duration)
    return [
        Segment(float(b[s]), float(b[e]), float(ratio[s:e].mean())) for s, e in zip(starts, ends, strict=True)
    ]
