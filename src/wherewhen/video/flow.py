"""Optical flow between two RGB frames, rendered as a 3-channel uint8 image an ImageNet backbone can read.

Flow is dense classical flow from OpenCV: DIS (Kroeger et al. 2016, ``cv2.DISOpticalFlow``, medium preset;
the default: fast and robust) or Farneback (``cv2.calcOpticalFlowFarneback``). It is computed on the grayscale
frames, in pixels of the given resolution.

Rendering: the (dx, dy, magnitude) image of the two-stream literature (x and y flow clipped to [-bound, bound]
and mapped linearly to [0, 255], as Simonyan & Zisserman and TSN store flow; Gkioxari & Malik add the magnitude
as the third channel so a 3-channel ImageNet network can take it):

    R = 255 (clip(dx, -b, b) + b) / 2b,   G = 255 (clip(dy, -b, b) + b) / 2b,   B = 255 clip(|(dx, dy)|, 0, b) / b

Zero motion is mid-gray (128, 128) with a black third channel, so a still background gives a flat image and only
moving regions produce structure. Unlike an HSV rendering, each channel is a linear function of the flow, and the
direction of small motions is not lost to a hue wrap-around. ``bound`` = 20 pixels fits frames of about 340 x 256;
scale it with the frame size.
"""

from __future__ import annotations

import cv2
import numpy as np

from wherewhen.errors import ConfigError

FLOW_METHODS = ("dis", "farneback")


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow (H, W, 2) float32 in pixels from ``prev`` to ``nxt`` (both (H, W, 3) uint8 RGB)."""
    if method not in FLOW_METHODS:
        raise ConfigError(f"unknown optical flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")
    for name, frame in (("prev", prev), ("nxt", nxt)):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ConfigError(
                f"flow_image: {name} must be an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}"
            )
    if prev.shape != nxt.shape:
        raise ConfigError(f"flow_image: frames differ in size: {prev.shape} and {nxt.shape}")
    gray_prev = cv2.cvtColor(np.ascontiguousarray(prev), cv2.COLOR_RGB2GRAY)
    gray_next = cv2.cvtColor(np.ascontiguousarray(nxt), cv2.COLOR_RGB2GRAY)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(gray_prev, gray_next, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(
            gray_prev,
            gray_next,
            None,
            pyr_scale=0.5,
            levels=3,
            winsize=15,
            iterations=3,
            poly_n=5,
            poly_sigma=1.2,
            flags=0,
        )
    return flow.astype(np.float32, copy=False)


def render_flow(flow: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """(H, W, 2) flow in pixels -> (H, W, 3) uint8 image (dx, dy, magnitude), clipped at ``bound`` pixels."""
    if bound <= 0:
        raise ConfigError(f"flow bound must be positive, got {bound}")
    dx, dy = flow[..., 0], flow[..., 1]
    magnitude = np.sqrt(dx * dx + dy * dy)
    channels = (
        (np.clip(dx, -bound, bound) + bound) * (255.0 / (2 * bound)),
        (np.clip(dy, -bound, bound) + bound) * (255.0 / (2 * bound)),
        np.clip(magnitude, 0.0, bound) * (255.0 / bound),
    )
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def flow_image(prev: np.ndarray, nxt: np.ndarray, method: str = "dis", bound: float = 20.0) -> np.ndarray:
    """Optical flow from ``prev`` to ``nxt`` (RGB uint8, same size) as an (H, W, 3) uint8 (dx, dy, magnitude) image."""
    return render_flow(compute_flow(prev, nxt, method), bound)
