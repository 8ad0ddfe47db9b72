"""Decode chosen frames of a video with PyAV, seeking instead of decoding a whole long video.

Frame ``i`` is the i-th frame in presentation order, located by its timestamp: ``round((pts - start) * tb * fps)``.
Between two wanted frames we keep decoding when that is cheaper than a seek (the next wanted frame's keyframe is
not past the current position), and seek otherwise.

A video decoded from its start without seeking (AVI: DivX and Xvid files, UCF101, HMDB51) skips the B pictures no one
wants: nothing references them, so the others decode bit for bit the same. The MPEG-4 Part 2 decoder puts out one
picture per packet after a delay fixed at the start, so packet k holds picture k - delay, and a skipped packet is
exactly one missing picture (B pictures are 2 in 3 of the ud810 clips, and half of their decoding time). H.264 and
HEVC in MP4 at a constant frame rate skip the non-reference pictures of unwanted frames too, found by timestamp
(each packet is one picture and carries its timestamp): 143 of bikes.mp4's 250 pictures are decoded for 16 frames.
Both only on one decoding thread (with FFmpeg's frame threads a skip would land on a later packet).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from wherewhen.errors import VideoError
from wherewhen.video.probe import VideoInfo, _ffmpeg_reason, open_container, probe
from wherewhen.video.transforms import CenterSquare, scaled_size

Size = int | None | CenterSquare  # a shorter side, the original size (None), or the backbone's centred square

# Frames the container may over-count at the end (headers are often off by a frame or two).
_END_SLACK = 2
_SEEKABLE_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "mpegts"}


def read_frames(
    path: str | Path,
    indices: Sequence[int],
    *,
    info: VideoInfo | None = None,
    shorter_side: Size = None,
    threads: int = 0,
) -> np.ndarray:
    """Return frames ``indices`` (any order, repeats allowed) as uint8 RGB (N, H, W, 3), rotation applied.

    ``shorter_side`` resizes in FFmpeg's scaler while converting (area filter), which is much cheaper than
    converting full-size frames and resizing afterwards; a ``CenterSquare`` gives the backbone's square crop.
    ``threads`` = 0 lets FFmpeg choose; pipelines that decode in worker processes beside a busy backbone pass 1.
    """
    path = Path(path)
    info = info or probe(path)
    decoded = {
        i: images[0] for i, images in iter_frames(path, indices, info=info, sizes=[shorter_side], threads=threads)
    }
    return np.stack([decoded[int(i)] for i in indices])


def iter_frames(
    path: str | Path,
    indices: Sequence[int],
    *,
    info: VideoInfo | None = None,
    sizes: Sequence[Size] = (None,),
    threads: int = 0,
    more_sizes_for: Collection[int] | None = None,
    skip_unwanted: bool = True,
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(index, images)`` for each distinct frame of ``indices`` in increasing order, as soon as it is
    decoded; ``images`` holds the frame once per entry of ``sizes`` (shorter side, None = original size), each
    converted from the same decoded picture (a frame needed at two sizes is decoded once). With ``more_sizes_for``,
    only those indices get ``sizes[1:]``; the others get ``sizes[0]`` alone. ``skip_unwanted=False`` decodes every
    picture even where B pictures could be skipped (the same frames; for measuring). Errors as ``read_frames``.
    """
    path = Path(path)
    info = info or probe(path)
    if not len(indices):
        raise VideoError(path, "no frame indices requested")
    wanted = sorted(set(int(i) for i in indices))
    if wanted[0] < 0 or wanted[-1] >= info.num_frames:
        raise VideoError(path, f"frame index out of range 0..{info.num_frames - 1}: {wanted[0]}..{wanted[-1]}")
    return _decode_wanted(path, info, wanted, list(sizes), threads, more_sizes_for, skip_unwanted)


def _decode_wanted(
    path: Path,
    info: VideoInfo,
    wanted: list[int],
    sizes: list[Size],
    threads: int,
    more: Collection[int] | None,
    skip_unwanted: bool,
) -> Iterator[tuple[int, list[np.ndarray]]]:
    # Dimensions before rotation: rotation swaps width and height after the scaler.
    raw_w, raw_h = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    targets = [side if isinstance(side, CenterSquare) else scaled_size(raw_w, raw_h, side) for side in sizes]
    last: tuple[int, list[np.ndarray]] | None = None
    position = -1  # index of the last decoded frame; -1 right after opening or seeking
    pending = list(wanted)
    with open_container(path) as container:
        cursor = _Cursor(container, info, wanted, threads, skip_unwanted)
        frames = cursor.first_frames()
        check_seek, just_seeked = True, False
        while pending:
            target = pending[0]
            if check_seek:
                check_seek = False
                if _should_seek(position, target, cursor.keyframes, cursor.pts_of):
                    frames, just_seeked = cursor.seek(max(cursor.pts_of(target) - 1, cursor.start)), True
            try:
                counted, frame = next(frames, (None, None))
            except av.FFmpegError as exc:
                raise VideoError(path, f"corrupt stream near frame {position + 1} ({_ffmpeg_reason(exc)})") from None
            if frame is None:
                break
            # Decoders emit frames in presentation order: count them, and use the timestamp only after a seek
            # (or where the frames come with their index: skipping pictures).
            if counted is not None:
                index = counted
            elif just_seeked and frame.pts is not None:
                index = cursor.index_of(frame.pts)
            else:
                index = position + 1
            if just_seeked and index > target:
                # The seek landed past the target: decode from the start instead, without seeking again.
                frames = cursor.seek(cursor.start)
                cursor.keyframes, position, just_seeked = [], -1, False
                continue
            just_seeked = False
            position = index
            if pending[0] <= index:
                needed = targets if more is None or pending[0] in more else targets[:1]
                images = [_convert(frame, target, info.rotation) for target in needed]
                while pending and pending[0] <= index:
                    last = (pending.pop(0), images)
                    yield last
                check_seek = True
    if pending:
        yield from _past_the_end(path, info, pending, last, position)


class _Cursor:
    """One open video stream: its clock (frame index <-> timestamp), its keyframes where it can be seeked, and the
    frames from the current position (pictures no frame needs skipped where the decoder allows)."""

    def __init__(
        self, container: av.container.InputContainer, info: VideoInfo, wanted: list[int], threads: int, skip: bool
    ) -> None:
        self.container = container
        self.stream = stream = container.streams.video[0]
        if threads == 1:
            stream.thread_count = 1
        else:
            stream.thread_type = "AUTO"
            stream.thread_count = threads
        self.fps = info.fps
        self.time_base = float(stream.time_base) if stream.time_base else 1.0 / info.fps
        self.start = stream.start_time or 0
        # Only containers with trustworthy presentation timestamps are seeked (AVI with packed B-frames is not).
        seekable = any(name in _SEEKABLE_FORMATS for name in container.format.name.split(","))
        self.keyframes = sorted(e.timestamp for e in stream.index_entries if e.is_keyframe) if seekable else []
        self.wanted = set(wanted)
        codec = stream.codec_context.name
        self.skipping = skip and threads == 1 and not self.keyframes and codec in _SKIPPABLE_CODECS
        self.by_timestamp = skip and threads == 1 and _timestamps_name_frames(container, stream)

    def pts_of(self, index: int) -> int:
        return int(self.start + index / self.fps / self.time_base)

    def index_of(self, pts: int) -> int:
        return round((pts - self.start) * self.time_base * self.fps)

    def first_frames(self) -> Frames:
        """The frames after opening."""
        return _skipping_unwanted(self.container, self.stream, self.wanted) if self.skipping else self.from_here()

    def seek(self, pts: int) -> Frames:
        """The frames from the keyframe at or before ``pts``."""
        self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        return self.from_here()

    def from_here(self) -> Frames:
        """Frames from the current position (after opening or a seek)."""
        if self.by_timestamp:
            return _skipping_by_timestamp(self.container, self.stream, self.wanted, self.index_of)
        return _counted(self.container, self.stream)


def _past_the_end(
    path: Path, info: VideoInfo, pending: list[int], last: tuple[int, list[np.ndarray]] | None, position: int
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """The frames ``pending`` after the stream ended: the last frame again where the header over-counted by a frame
    or two, else a VideoError."""
    if (
        last is not None
        and pending[0] >= info.num_frames - _END_SLACK
        and last[0] >= info.num_frames - 1 - 2 * _END_SLACK
    ):
        for i in pending:
            yield i, last[1]
        return
    raise VideoError(
        path,
        f"stream ends after {position + 1} of the {info.num_frames} frames its header announces (truncated or corrupt)",
    )


# Decoders that emit one picture per packet after a fixed delay, where skipping a B picture removes just that one.
_SKIPPABLE_CODECS = {"mpeg4"}

Frames = Iterator[tuple[int | None, av.VideoFrame]]


def _counted(container: av.container.InputContainer, stream: av.VideoStream) -> Frames:
    """Every frame from the current position; the caller counts them (no index given)."""
    for frame in container.decode(stream):
        yield None, frame


def _skipping_unwanted(
    container: av.container.InputContainer, stream: av.VideoStream, wanted: set[int], before: int = 1
) -> Frames:
    """(index, frame) from the start of the stream, with the B pictures of unwanted indices skipped (not decoded).

    The ``before`` pictures ahead of each wanted one are decoded too: a not-coded picture (N-VOP) repeats the B
    picture before it, and comes out only if that one was decoded. Should a wanted picture still not come out, or
    the decoder break the one-picture-per-packet rule, skipping stops: the stream is decoded again from the start
    and the frames are counted as they come, from the index reached.
    """
    context = stream.codec_context
    needed = {i - k for i in wanted for k in range(before + 1)}
    delay = None  # packets fed before the first picture came out
    fed = reached = 0  # packets fed; index of the next picture
    ended = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the end (then the decoder is drained below), or an empty packet mid-stream
                ended = True
                continue
            if ended:  # what an empty packet stands for is the decoder's business: count as it does
                raise _OffTheRule
            slot = None if delay is None else fed - delay
            context.skip_frame = "DEFAULT" if slot is None or slot in needed else "NONREF"
            pictures = context.decode(packet)
            fed += 1
            if slot is None:
                delay = fed - 1 if pictures else None
            elif len(pictures) > 1 or (slot in wanted and not pictures):
                raise _OffTheRule
            for picture in pictures:
                yield reached, picture
                reached += 1
            reached += slot is not None and not pictures  # a skipped picture
        context.skip_frame = "DEFAULT"
        for picture in context.decode(None):
            yield reached, picture
            reached += 1
    except _OffTheRule:
        yield from _every_frame_again(container, stream, reached)


def _every_frame_again(container: av.container.InputContainer, stream: av.VideoStream, first: int) -> Frames:
    """(index, frame) of frames ``first`` on, decoding the stream again from its start without skipping anything and
    counting the frames as they come (where skipping broke its rule)."""
    stream.codec_context.skip_frame = "DEFAULT"
    container.seek(stream.start_time or 0, stream=stream, backward=True, any_frame=False)
    for index, frame in enumerate(container.decode(stream)):
        if index >= first:
            yield index, frame


class _OffTheRule(Exception):
    """A packet gave no wanted picture, several pictures, or none at all, or a timestamp did not name a new frame:
    which packet holds which frame is no longer known."""


# Decoders that skip exactly the pictures no other picture is predicted from (H.264 nal_ref_idc 0, HEVC sub-layer
# non-reference pictures) when told to skip "NONREF", and the container family whose every packet carries the
# presentation timestamp of the one picture it holds.
_TIMESTAMP_SKIPPABLE_CODECS = {"h264", "hevc"}
_ONE_PICTURE_PER_PACKET_FORMATS = {"mov", "mp4"}


def _timestamps_name_frames(container: av.container.InputContainer, stream: av.VideoStream) -> bool:
    """Whether a packet's timestamp tells which frame it holds before it is decoded: MP4/MOV, H.264 or HEVC, and a
    constant frame rate (the average rate is the stream's base rate), so frame i sits at start + i / fps."""
    formats = set(container.format.name.split(","))
    constant_rate = bool(stream.average_rate) and stream.average_rate == stream.base_rate
    return (
        bool(formats & _ONE_PICTURE_PER_PACKET_FORMATS)
        and stream.codec_context.name in _TIMESTAMP_SKIPPABLE_CODECS
        and constant_rate
    )


def _skipping_by_timestamp(
    container: av.container.InputContainer, stream: av.VideoStream, wanted: set[int], index_of: Callable[[int], int]
) -> Frames:
    """(index, frame) from the current position, each frame's index from its timestamp, with the non-reference
    pictures of unwanted frames skipped (not decoded): in MP4 each packet is one picture and carries its timestamp,
    so which frame a packet holds is known before decoding it, and a picture nothing is predicted from changes no
    other when skipped. A frame out of order, a second one at an index, or one without a timestamp stops the
    skipping: the stream is decoded again from the start and the frames are counted as they come, from the index
    reached."""
    context = stream.codec_context
    reached = -1  # index of the last frame handed out
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the end: the decoder is drained below
                continue
            unwanted = packet.pts is not None and index_of(packet.pts) not in wanted
            context.skip_frame = "NONREF" if unwanted else "DEFAULT"
            for frame in context.decode(packet):
                reached = _next_index(frame, reached, index_of)
                yield reached, frame
        context.skip_frame = "DEFAULT"
        for frame in context.decode(None):
            reached = _next_index(frame, reached, index_of)
            yield reached, frame
    except _OffTheRule:
        yield from _every_frame_again(container, stream, reached + 1)


def _next_index(frame: av.VideoFrame, reached: int, index_of: Callable[[int], int]) -> int:
    """The index of ``frame`` from its timestamp, which must come after ``reached``."""
    index = None if frame.pts is None else index_of(frame.pts)
    if index is None or index <= reached:
        raise _OffTheRule
    return index


def _should_seek(position: int, target: int, keyframes: list[int], pts_of: Callable[[int], int]) -> bool:
    """Seek when the last keyframe at or before ``target`` lies past the current position."""
    if not keyframes:
        return False
    target_pts = pts_of(target)
    key = None
    for k in keyframes:
        if k > target_pts:
            break
        key = k
    if key is None:
        return False
    current = pts_of(position) if position >= 0 else keyframes[0]
    return key > current


def _convert(frame: av.VideoFrame, target: tuple[int, int] | CenterSquare, rotation: int) -> np.ndarray:
    if not isinstance(target, CenterSquare):
        return _to_rgb(frame, *target, rotation)
    if not rotation and _plain_yuv420(frame) and target.size % 4 == 0:
        return _square_from_yuv420(frame, target)
    return target.crop(_to_rgb(frame, frame.width, frame.height, rotation))


def _to_rgb(frame: av.VideoFrame, width: int, height: int, rotation: int) -> np.ndarray:
    if (frame.width, frame.height) != (width, height):
        frame = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        image = frame.to_ndarray()
    else:
        image = frame.to_ndarray(format="rgb24")
    if rotation:
        image = np.ascontiguousarray(np.rot90(image, k=-rotation // 90))
    return image


# Colour spaces FFmpeg's scaler treats as BT.601, the matrix OpenCV's YUV -> RGB conversion uses:
# unspecified, BT.470BG and SMPTE 170M (AVCOL_SPC_*).
_BT601 = {2, 5, 6}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def _plain_yuv420(frame: av.VideoFrame) -> bool:
    """Limited-range BT.601 4:2:0 frames, where cropping and scaling the planes before the colour conversion gives
    what converting first would (up to rounding)."""
    colorspace, color_range = getattr(frame, "colorspace", None), getattr(frame, "color_range", _FULL_RANGE)
    return frame.format.name == "yuv420p" and colorspace in _BT601 and color_range != _FULL_RANGE


def _square_from_yuv420(frame: av.VideoFrame, square: CenterSquare) -> np.ndarray:
    """The centred square straight from the Y, U and V planes: crop, area-resize each plane, then convert only the
    small square to RGB: 0.6 ms instead of 1.4 ms for a 640 x 480 frame (FFmpeg's scaler on the whole frame)."""
    left, top, side = square.source_region(frame.width, frame.height)
    size, half = square.size, square.size // 2
    planes = [np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size) for plane in frame.planes]
    luma = cv2.resize(planes[0][top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA)
    region = np.s_[top // 2 : (top + side) // 2, left // 2 : (left + side) // 2]
    u, v = (cv2.resize(p[region], (half, half), interpolation=cv2.INTER_AREA) for p in planes[1:])
    i420 = np.concatenate([luma, u.reshape(-1, size), v.reshape(-1, size)])  # OpenCV's planar I420 layout
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
