"""The heatmap recipe of the ALSTM blog post (papers/002): a K x K attention map drawn over the frame.

1. divide the map by its maximum and upsample it (bilinear, ``cv2.resize``) onto the crop region of the frame that
   the K x K grid covers (not the whole frame: the backbone saw only the centre crop);
2. smooth it with a Gaussian filter (sigma = half a grid cell unless given);
3. keep only the pixels above the ``percentile``-th percentile of the crop's pixels (80 in the post), which removes
   the noise floor; the kept values are stretched to [0, 1]: ``(v - p) / (max - p)``;
4. colour the kept pixels with an OpenCV colormap and alpha-blend them over the frame:
   ``out = (1 - alpha) frame + alpha colour``; everything else stays untouched.

A uniform map (a model that does not attend in space) has no pixel above its percentile and leaves the frame as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import cv2
import numpy as np

from wherewhen.errors import ConfigError


@dataclass(frozen=True)
class HeatmapStyle:
    percentile: float = 80.0
    alpha: float = 0.5
    colormap: str = "jet"
    sigma: float | None = None  # Gaussian sigma in displayed pixels; None = half a grid cell

    def __post_init__(self) -> None:
        if not 0.0 <= self.percentile < 100.0:
            raise ConfigError(f"--percentile must lie in [0, 100), got {self.percentile}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"--alpha must lie in [0, 1], got {self.alpha}")
        colormap_code(self.colormap)
        if self.sigma is not None and self.sigma < 0:
            raise ConfigError(f"heatmap sigma must be >= 0, got {self.sigma}")


def colormap_code(name: str) -> int:
    code = getattr(cv2, f"COLORMAP_{name.upper()}", None)
    if not isinstance(code, int):
        choices = sorted(n.removeprefix("COLORMAP_").lower() for n in dir(cv2) if n.startswith("COLORMAP_"))
        raise ConfigError(f"unknown colormap {name!r}; OpenCV has {', '.join(choices)}")
    return code


def crop_pixels(crop: Sequence[float], frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of a float (x, y, w, h) crop, clipped to a frame of shape (height, width)."""
    h, w = frame_shape
    x, y, cw, ch = (float(v) for v in crop)
    x0, y0 = min(max(round(x), 0), w), min(max(round(y), 0), h)
    x1, y1 = min(max(round(x + cw), x0), w), min(max(round(y + ch), y0), h)
    return x0, y0, x1, y1


def crop_field(attention: np.ndarray, size: tuple[int, int], sigma: float | None = None) -> np.ndarray | None:
    """Steps 1-2 on the crop region alone: float32 (h, w) smoothed map in [0, 1] for a crop of ``size`` (w, h)
    pixels; None when there is nothing to draw (an empty crop, or no positive finite maximum).

    Upsampling and smoothing are separable and linear: one small matrix per axis, ``field = Y @ (a / max) @ X.T``
    (``axis_operator``), ``cv2.resize`` then ``cv2.GaussianBlur`` up to float rounding.
    """
    a = np.asarray(attention, dtype=np.float32)
    width, height = size
    peak = float(a.max()) if a.size else 0.0
    if width <= 0 or height <= 0 or peak <= 0 or not np.isfinite(peak):
        return None
    if float(a.min()) == peak:  # uniform: exactly flat (the products below would add rounding ripples)
        return np.ones((height, width), dtype=np.float32)
    if sigma is None:
        sigma = 0.5 * width / a.shape[1]
    rows = axis_operator(a.shape[0], height, float(sigma))
    cols = axis_operator(a.shape[1], width, float(sigma))
    return rows @ (a / peak) @ cols.T


@lru_cache(maxsize=64)
def axis_operator(cells: int, pixels: int, sigma: float) -> np.ndarray:
    """float32 (pixels, cells): ``cv2.resize`` (bilinear) of ``cells`` values to ``pixels``, then
    ``cv2.GaussianBlur`` with ``sigma`` (replicated border), along one axis: the response to each unit impulse."""
    impulses = np.eye(cells, dtype=np.float32)  # row k: a unit value at cell k
    up = cv2.resize(impulses, (pixels, cells), interpolation=cv2.INTER_LINEAR)  # stretches along the row only
    if sigma > 0:  # a 1-pixel kernel across rows (sigmaY tiny; 0 would mean sigmaX)
        up = cv2.GaussianBlur(up, (0, 0), sigmaX=sigma, sigmaY=1e-9, borderType=cv2.BORDER_REPLICATE)
    operator = np.ascontiguousarray(up.T)
    operator.setflags(write=False)
    return operator


def heat_field(
    attention: np.ndarray, frame_shape: tuple[int, int], crop: Sequence[float], sigma: float | None = None
) -> np.ndarray:
    """Steps 1-2: float32 (H, W) smoothed map in [0, 1] on the crop region, 0 elsewhere.

    ``crop`` is (x, y, w, h) in the pixels of the frame being drawn on (original pixels times any display scale).
    """
    field = np.zeros(frame_shape, dtype=np.float32)
    x0, y0, x1, y1 = crop_pixels(crop, frame_shape)
    up = crop_field(attention, (x1 - x0, y1 - y0), sigma)
    if up is not None:
        field[y0:y1, x0:x1] = up
    return field


def top_of(region: np.ndarray, percentile: float = 80.0) -> tuple[np.ndarray, np.ndarray] | None:
    """Step 3 on the crop region: (kept mask, values stretched to [0, 1] where kept, 0 elsewhere), or None when no
    pixel lies strictly above the ``percentile``-th percentile."""
    if region.size == 0:
        return None
    p = float(np.percentile(region, percentile))
    top = float(region.max())
    inside = region > p
    if top <= p or not inside.any():
        return None
    return inside, np.where(inside, (region - p) / (top - p), 0.0).astype(np.float32)


def keep_top(field: np.ndarray, crop: Sequence[float], percentile: float = 80.0) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: (kept mask (H, W) bool, values stretched to [0, 1] where kept, 0 elsewhere).

    The percentile is taken over the crop region's pixels; a pixel is kept when strictly above it.
    """
    x0, y0, x1, y1 = crop_pixels(crop, field.shape[:2])
    kept = np.zeros(field.shape, dtype=bool)
    values = np.zeros(field.shape, dtype=np.float32)
    found = top_of(field[y0:y1, x0:x1], percentile)
    if found is not None:
        kept[y0:y1, x0:x1], values[y0:y1, x0:x1] = found
    return kept, values


def grey_levels(values: np.ndarray) -> np.ndarray:
    """(...) values in [0, 1] -> uint8 levels 0-255, rounded half up: the colormap's index."""
    return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)


def colorize(values: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """(...) values in [0, 1] -> (..., 3) uint8 RGB through an OpenCV colormap."""
    return colormap_rgb(colormap)[grey_levels(values)]


@cache
def colormap_rgb(colormap: str) -> np.ndarray:
    """(256, 3) uint8 RGB: the colour OpenCV's ``applyColorMap`` gives each grey level."""
    levels = np.arange(256, dtype=np.uint8).reshape(256, 1)
    return cv2.cvtColor(cv2.applyColorMap(levels, colormap_code(colormap)), cv2.COLOR_BGR2RGB).reshape(256, 3)


def overlay_heatmap(
    frame: np.ndarray, attention: np.ndarray, crop: Sequence[float], style: HeatmapStyle | None = None
) -> np.ndarray:
    """The whole recipe: RGB uint8 (H, W, 3) frame -> a copy with the attention heatmap blended on.

    Only the kept pixels of the crop region change (the same pixels and colours as ``heat_field`` + ``keep_top`` +
    ``colorize`` over the whole frame); each becomes ``(1 - alpha) frame + alpha colour`` in float32, rounded half
    up. The crop is coloured and blended whole, then the kept pixels copied back through a mask.
    """
    style = style or HeatmapStyle()
    out = frame.copy()
    x0, y0, x1, y1 = crop_pixels(crop, frame.shape[:2])
    up = crop_field(attention, (x1 - x0, y1 - y0), style.sigma)
    if up is None:
        return out
    # OpenCV blend and the matrix field (crop_field): each >10 % of "explain stage: drawing" (benchmarks/RESULTS.md)
    p = float(np.percentile(up, style.percentile))
    top = float(up.max())
    kept = up > p
    if top <= p or not kept.any():
        return out
    colour = cv2.applyColorMap(grey_levels((up - p) / (top - p)), colormap_rgb(style.colormap).reshape(256, 1, 3))
    region = out[y0:y1, x0:x1]
    # + 0.5 then truncation: half up (OpenCV's own rounding to 8 bits goes half to even)
    blended = cv2.addWeighted(region, 1.0 - style.alpha, colour, style.alpha, 0.5, dtype=cv2.CV_32F)
    cv2.copyTo(blended.astype(np.uint8), kept.view(np.uint8), region)  # writes into ``out`` through the view
    return out
