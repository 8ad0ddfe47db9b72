"""Ground truth on the cube's grid: which cells of a row show the annotated box, which rows lie in a segment.

A K x K map covers the crop (x, y, w, h) of the frame (``FeatureRecord.crop``); cell (r, c) is the rectangle
``[x + c w/K, x + (c+1) w/K] x [y + r h/K, y + (r+1) h/K]``. A cell *is in the box* when its centre lies in
the row's ground-truth box (edges count), the same test the pointing game applies to an attention peak.
``box_overlap`` gives the share of each cell's area the box covers instead. A row *is in a segment* when its time
lies in ``[start, end)`` of one of the record's segments.
"""

from __future__ import annotations

import numpy as np

from wherewhen.features.store import FeatureRecord


def _cell_edges(crop: tuple[float, float, float, float], grid: int) -> tuple[np.ndarray, np.ndarray]:
    x, y, w, h = (float(v) for v in crop)
    return x + np.arange(grid + 1) * w / grid, y + np.arange(grid + 1) * h / grid


def box_cells(record: FeatureRecord, grid: int) -> np.ndarray:
    """(T, K, K) bool: True where the cell centre lies in that row's box; all False in rows without a box."""
    xs, ys = _cell_edges(record.crop, grid)
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    out = np.zeros((len(record.frame_indices), grid, grid), dtype=bool)
    for row, box in enumerate(record.boxes[: len(out)]):
        if box is not None:
            x1, y1, x2, y2 = box
            out[row] = ((cy >= y1) & (cy <= y2))[:, None] & ((cx >= x1) & (cx <= x2))[None, :]
    return out


def box_overlap(record: FeatureRecord, grid: int) -> np.ndarray:
    """(T, K, K) in [0, 1]: the share of each cell's area inside that row's box (0 in rows without a box)."""
    xs, ys = _cell_edges(record.crop, grid)
    out = np.zeros((len(record.frame_indices), grid, grid), dtype=np.float64)
    for row, box in enumerate(record.boxes[: len(out)]):
        if box is not None:
            x1, y1, x2, y2 = box
            wide = np.clip(np.minimum(xs[1:], x2) - np.maximum(xs[:-1], x1), 0, None) / np.diff(xs)
            tall = np.clip(np.minimum(ys[1:], y2) - np.maximum(ys[:-1], y1), 0, None) / np.diff(ys)
            out[row] = tall[:, None] * wide[None, :]
    return out


def segment_rows(record: FeatureRecord) -> np.ndarray:
    """(T,) bool: True where the row's time lies in [start, end) of a ground-truth segment."""
    times = np.asarray(record.times, dtype=np.float64)
    inside = np.zeros(len(times), dtype=bool)
    for start, end, _ in record.segments:
        inside |= (times >= start) & (times < end)
    return inside


def has_truth(record: FeatureRecord) -> bool:
    """Whether the record carries a box in some row or a segment."""
    return bool(record.segments) or any(b is not None for b in record.boxes)
