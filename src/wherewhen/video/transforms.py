"""Resize the shorter side and centre-crop frames to a backbone's square input."""

from __future__ import annotations

import numpy as np

from wherewhen.video.decode import scaled_size


def center_crop_box(width: int, height: int, resize: int, size: int) -> tuple[float, float, float, float]:
    """The (x, y, w, h) region of the ORIGINAL frame that survives resize-shorter-side + centre crop."""
    rw, rh = scaled_size(width, height, resize)
    left, top = (rw - size) // 2, (rh - size) // 2
    sx, sy = width / rw, height / rh
    return (left * sx, top * sy, size * sx, size * sy)


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop (N, H, W, 3) frames, already resized so their shorter side is >= size, to (N, size, size, 3)."""
    h, w = frames.shape[1:3]
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(frames[:, top : top + size, left : left + size])
