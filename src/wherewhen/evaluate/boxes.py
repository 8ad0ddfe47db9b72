"""Spatial attention map -> box in original frame pixels, attention peak, and box IoU.

A K x K map covers the crop (x, y, w, h) of the original frame (see ``FeatureRecord.crop``): cell (r, c) is the
rectangle ``[x + c w/K, x + (c+1) w/K] x [y + r h/K, y + (r+1) h/K]``.

Box recipe (the paper's: "threshold the saliency mask at 0.5; the tightest box containing the thresholded map"):

1. normalize: ``"max"`` divides the map by its maximum so the peak is 1 (a softmax map and a [0, 1] mask both
   work; a uniform map keeps every cell); ``"none"`` thresholds the raw values (a [0, 1] mask as the paper does).
2. keep the cells with normalized value >= threshold.
3. region: ``"all"`` takes every kept cell (the paper's wording); ``"peak"`` only the 8-connected component of
   kept cells that holds the maximum.
4. the tightest box of whole cells around the region, mapped through the crop and clipped to the frame.

``upsample=f`` (f > 1) first resizes the K x K map bilinearly to fK x fK (cell centres stay where they are), so
the threshold cuts between cells and the box edges fall on 1/f of a cell: the weakly supervised localization
practice (CAM, Zhou et al. 2016: upsample, threshold relative to the peak, box the component around the peak).
``upsample=1`` with ``region="all"`` is the paper's rule.

The peak of a map (pointing game): ``"cell"`` is the centre of the maximal cell; ``"centroid"`` is the
value-weighted centre of the maximal cell and its 8 neighbours, a sub-cell estimate of where the map peaks
when the attended object straddles cells (the 3 x 3 centre of mass used for sub-pixel peak refinement).

Boxes are (x1, y1, x2, y2) in continuous pixel coordinates; area = (x2 - x1)(y2 - y1) (no +1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from wherewhen.errors import ConfigError

Box = tuple[float, float, float, float]
Normalize = Literal["max", "none"]
Region = Literal["all", "peak"]
Peak = Literal["cell", "centroid"]


def normalize_map(attention: np.ndarray, normalize: Normalize = "max") -> np.ndarray:
    """The map scaled so its maximum is 1 (``"max"``), or unchanged (``"none"``); an all-zero map stays zero."""
    attention = np.asarray(attention, dtype=np.float64)
    if normalize == "none":
        return attention
    if normalize != "max":
        raise ConfigError(f"unknown map normalization {normalize!r}; use 'max' or 'none'")
    peak = float(attention.max()) if attention.size else 0.0
    return attention / peak if peak > 0 else np.zeros_like(attention)


def kept_region(
    attention: np.ndarray, threshold: float = 0.5, region: Region = "all", normalize: Normalize = "max"
) -> np.ndarray:
    """Boolean (K, K) mask of the cells that make the box."""
    norm = normalize_map(attention, normalize)
    kept = norm >= threshold
    if region == "all" or not kept.any():
        return kept
    if region != "peak":
        raise ConfigError(f"unknown region choice {region!r}; use 'all' or 'peak'")
    _, components = cv2.connectedComponents(kept.astype(np.uint8), connectivity=8)  # diagonal neighbours join
    peak = np.unravel_index(int(np.argmax(np.where(kept, norm, -np.inf))), norm.shape)
    return components == components[peak]


def upsampled(attention: np.ndarray, factor: int) -> np.ndarray:
    """The (K, K) map resized bilinearly to (fK, fK), cell centres kept in place (half-pixel alignment)."""
    attention = np.asarray(attention, dtype=np.float32)
    if factor == 1:
        return attention
    if factor < 1:
        raise ConfigError(f"upsample must be a whole number >= 1, got {factor}")
    rows, cols = attention.shape
    return cv2.resize(attention, (cols * factor, rows * factor), interpolation=cv2.INTER_LINEAR)


def mask_to_grid_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row0, col0, row1, col1) inclusive cell range of the tightest box around the True cells, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def grid_box_to_pixels(
    grid_box: tuple[int, int, int, int],
    grid_shape: tuple[int, int],
    crop: Sequence[float],
    frame_size: Sequence[float] | None = None,
) -> Box:
    """Whole-cell box -> (x1, y1, x2, y2) original pixels through the crop, clipped to the frame (w, h)."""
    r0, c0, r1, c1 = grid_box
    rows, cols = grid_shape
    cx, cy, cw, ch = (float(v) for v in crop)
    x1, x2 = cx + c0 * cw / cols, cx + (c1 + 1) * cw / cols
    y1, y2 = cy + r0 * ch / rows, cy + (r1 + 1) * ch / rows
    if frame_size is not None:
        w, h = float(frame_size[0]), float(frame_size[1])
        x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
        y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
    return (x1, y1, x2, y2)


def attention_boxes(
    maps: np.ndarray,
    crop: Sequence[float],
    frame_size: Sequence[float] | None = None,
    threshold: float = 0.5,
    region: Region = "all",
    normalize: Normalize = "max",
    upsample: int = 1,
) -> np.ndarray:
    """(R, 4) predicted boxes of R frames' (K, K) maps in original pixels; a row of NaN where no cell is kept."""
    maps = np.asarray(maps, dtype=np.float64)
    out = np.full((len(maps), 4), np.nan)
    if region != "all" or upsample != 1:
        for i, m in enumerate(maps):
            fine = upsampled(m, upsample)
            grid_box = mask_to_grid_box(kept_region(fine, threshold, region, normalize))
            if grid_box is not None:
                out[i] = grid_box_to_pixels(grid_box, fine.shape, crop, frame_size)
        return out
    if normalize == "max":
        peak = maps.max(axis=(1, 2), keepdims=True) if maps.size else maps
        maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    elif normalize != "none":
        normalize_map(maps[:1], normalize)  # raises the one-line error
    kept = maps >= threshold
    rows_any, cols_any = kept.any(axis=2), kept.any(axis=1)
    valid = rows_any.any(axis=1)
    n_rows, n_cols = maps.shape[1:]
    r0, r1 = rows_any.argmax(axis=1), n_rows - 1 - rows_any[:, ::-1].argmax(axis=1)
    c0, c1 = cols_any.argmax(axis=1), n_cols - 1 - cols_any[:, ::-1].argmax(axis=1)
    cx, cy, cw, ch = (float(v) for v in crop)
    boxes = np.stack(
        [cx + c0 * cw / n_cols, cy + r0 * ch / n_rows, cx + (c1 + 1) * cw / n_cols, cy + (r1 + 1) * ch / n_rows], axis=1
    )
    if frame_size is not None:
        w, h = float(frame_size[0]), float(frame_size[1])
        boxes = np.clip(boxes, 0.0, [w, h, w, h])
    out[valid] = boxes[valid]
    return out


def attention_box(
    attention: np.ndarray,
    crop: Sequence[float],
    frame_size: Sequence[float] | None = None,
    threshold: float = 0.5,
    region: Region = "all",
    normalize: Normalize = "max",
    upsample: int = 1,
) -> Box | None:
    """The predicted box of one frame's (K, K) map in original pixels; None when no cell passes the threshold."""
    box = attention_boxes(np.asarray(attention)[None], crop, frame_size, threshold, region, normalize, upsample)[0]
    return None if np.isnan(box).any() else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def attention_peaks(maps: np.ndarray, crop: Sequence[float], peak: Peak = "cell") -> np.ndarray:
    """(R, 2) original-pixel (x, y) of each map's peak.

    ``"cell"``: the mean centre of the cells that share the maximum (within a relative 1e-6), so a uniform map
    points at the crop centre instead of its top-left cell. ``"centroid"``: for a single maximal cell, the
    value-weighted mean of the centres of that cell and its in-grid neighbours; tied maxima as for ``"cell"``.
    """
    if peak not in ("cell", "centroid"):
        raise ConfigError(f"unknown peak choice {peak!r}; use 'cell' or 'centroid'")
    maps = np.asarray(maps, dtype=np.float64)
    top = maps.max(axis=(1, 2), keepdims=True)
    tied = np.abs(maps - top) <= 1e-6 * np.abs(top)
    count = tied.sum(axis=(1, 2))
    n_rows, n_cols = maps.shape[1:]
    r = (tied * np.arange(n_rows)[None, :, None]).sum(axis=(1, 2)) / count
    c = (tied * np.arange(n_cols)[None, None, :]).sum(axis=(1, 2)) / count
    if peak == "centroid":
        for i in np.flatnonzero(count == 1):
            r[i], c[i] = neighbourhood_centroid(maps[i], int(r[i]), int(c[i]))
    cx, cy, cw, ch = (float(v) for v in crop)
    return np.stack([cx + (c + 0.5) * cw / n_cols, cy + (r + 0.5) * ch / n_rows], axis=1)


def neighbourhood_centroid(attention: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """(row, col) in cell units: the value-weighted mean position of cell (row, col) and its in-grid neighbours."""
    r0, c0 = max(row - 1, 0), max(col - 1, 0)
    window = np.clip(attention[r0 : row + 2, c0 : col + 2], 0.0, None)
    rows, cols = np.mgrid[r0 : r0 + window.shape[0], c0 : c0 + window.shape[1]]
    total = window.sum()
    return float((window * rows).sum() / total), float((window * cols).sum() / total)


def attention_peak(attention: np.ndarray, crop: Sequence[float], peak: Peak = "cell") -> tuple[float, float]:
    """(x, y) original pixels of one map's peak (see ``attention_peaks``)."""
    x, y = attention_peaks(np.asarray(attention)[None], crop, peak)[0]
    return float(x), float(y)


def box_area(box: Sequence[float]) -> float:
    return max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when both are empty."""
    iw = min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0]))
    ih = min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1]))
    inter = max(0.0, iw) * max(0.0, ih)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of every box in ``a`` (N, 4) against every box in ``b`` (M, 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def point_in_box(point: tuple[float, float], box: Sequence[float], tolerance: float = 0.0) -> bool:
    """True when the point lies in the box grown by ``tolerance`` pixels on every side (edges count)."""
    x, y = point
    return (
        float(box[0]) - tolerance <= x <= float(box[2]) + tolerance
        and float(box[1]) - tolerance <= y <= float(box[3]) + tolerance
    )
