"""Optical flow images from real frames of bikes.mp4."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wherewhen.errors import ConfigError
from wherewhen.video.decode import read_frames
from wherewhen.video.flow import compute_flow, flow_image, render_flow


@pytest.fixture(scope="module")
def frames(bikes_mp4: Path) -> list[np.ndarray]:
    return list(read_frames(bikes_mp4, [50, 51]))


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The image content moved by (dx, dy) pixels (edges repeat)."""
    moved = np.roll(image, (dy, dx), axis=(0, 1))
    moved[:dy] = image[:1]
    moved[:, :dx] = image[:, :1]
    return moved


def _textured(image: np.ndarray, margin: int = 20) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    keep = grad > np.percentile(grad, 75)
    keep[:margin], keep[-margin:], keep[:, :margin], keep[:, -margin:] = False, False, False, False
    return keep


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_known_shift_of_a_real_frame_is_recovered_and_encoded(frames: list[np.ndarray], method: str) -> None:
    prev = frames[0]
    nxt = _shifted(prev, dx=3, dy=2)
    flow = compute_flow(prev, nxt, method)
    where = _textured(prev)
    assert np.median(flow[..., 0][where]) == pytest.approx(3.0, abs=0.3)
    assert np.median(flow[..., 1][where]) == pytest.approx(2.0, abs=0.3)
    image = flow_image(prev, nxt, method)
    assert image.shape == prev.shape and image.dtype == np.uint8
    # R = 255 (dx + 20) / 40, G = 255 (dy + 20) / 40, B = 255 |flow| / 20
    expected = (255 * 23 / 40, 255 * 22 / 40, 255 * np.sqrt(13) / 20)
    np.testing.assert_allclose(np.median(image[where], axis=0), expected, atol=3)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_still_frame_is_mid_gray_with_no_magnitude(frames: list[np.ndarray], method: str) -> None:
    image = flow_image(frames[0], frames[0], method)
    assert (np.abs(image[..., :2].astype(int) - 128) <= 1).mean() > 0.99
    assert (image[..., 2] <= 2).mean() > 0.99


def test_consecutive_real_frames_give_motion_on_part_of_the_frame(frames: list[np.ndarray]) -> None:
    image = flow_image(frames[0], frames[1])
    assert image.shape == frames[0].shape
    magnitude = image[..., 2]
    assert magnitude.max() > 20  # something moves
    assert np.median(magnitude) < magnitude.max()  # not a uniform field


def test_rendering_clips_at_the_bound() -> None:
    flow = np.array([[[100.0, -100.0], [0.0, 0.0], [-10.0, 5.0]]], dtype=np.float32)
    image = render_flow(flow, bound=20.0)
    assert image[0, 0].tolist() == [255, 0, 255]
    assert image[0, 1].tolist() == [128, 128, 0]
    assert image[0, 2].tolist() == [64, 159, 143]  # 255*10/40, 255*25/40, 255*sqrt(125)/20 rounded


def test_bad_input_gives_one_line_errors(frames: list[np.ndarray]) -> None:
    with pytest.raises(ConfigError, match="unknown optical flow method 'tvl1'"):
        flow_image(frames[0], frames[1], method="tvl1")
    with pytest.raises(ConfigError, match="differ in size"):
        flow_image(frames[0], frames[1][:100])
    with pytest.raises(ConfigError, match=r"\(H, W, 3\) uint8"):
        flow_image(frames[0].astype(np.float32), frames[1])
    with pytest.raises(ConfigError, match="bound must be positive"):
        render_flow(np.zeros((2, 2, 2), np.float32), bound=0)
