"""Resize the shorter side and centre-crop frames to a backbone's square input."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def scaled_size(width: int, height: int, shorter: int | None) -> tuple[int, int]:
    """(w, h) after resizing so the shorter side is ``shorter`` (unchanged when None)."""
    if not shorter:
        return width, height
    if width <= height:
        return shorter, max(1, round(height * shorter / width))
    return max(1, round(width * shorter / height)), shorter


@dataclass(frozen=True)
class CenterSquare:
    """The backbone's input: the frame resized so its shorter side is ``resize``, then its centred ``size`` x
    ``size`` square. Computed the other way round, from the same picture: the square ``source_region`` of the
    original frame is area-resized to ``size``, which skips scaling pixels the crop throws away."""

    resize: int
    size: int

    def source_region(self, width: int, height: int) -> tuple[int, int, int]:
        """(left, top, side) of the square of a ``width`` x ``height`` frame that becomes the crop. Even numbers,
        so the half-resolution chroma planes of 4:2:0 video crop along with the luma."""
        shorter = min(width, height)
        side = min(round(self.size * shorter / self.resize), shorter)
        side = max(2, side - side % 2) if shorter >= 2 else shorter
        left, top = (width - side) // 2, (height - side) // 2
        return left - left % 2, top - top % 2, side

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The square of one RGB (H, W, 3) image at the original size, as (size, size, 3)."""
        left, top, side = self.source_region(image.shape[1], image.shape[0])
        region = image[top : top + side, left : left + side]
        return cv2.resize(region, (self.size, self.size), interpolation=cv2.INTER_AREA)


def center_crop_box(width: int, height: int, resize: int, size: int) -> tuple[float, float, float, float]:
    """The (x, y, w, h) region of the ORIGINAL frame that survives resize-shorter-side + centre crop."""
    left, top, side = CenterSquare(resize, size).source_region(width, height)
    return (float(left), float(top), float(side), float(side))
