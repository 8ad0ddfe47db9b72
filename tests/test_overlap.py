"""Decoding a video once at two sizes, and the backbone running while a video still decodes: the same frames and
cubes as the plain path, decoding errors raised in the caller, torch's thread count left as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from test_video_errors import truncated_copy
from wherewhen.backbones import load_backbone
from wherewhen.errors import VideoError
from wherewhen.features.forward import CPU_CHUNK, embed_frames, embed_stream
from wherewhen.features.overlap import embed_while_decoding
from wherewhen.video.decode import iter_frames, read_frames
from wherewhen.video.transforms import CenterSquare

SQUARE = CenterSquare(256, 224)

INDICES = [3, 40, 41, 90, 150, 151, 200, 249]


@pytest.fixture(scope="module")
def backbone():
    return load_backbone("efficientnet_lite0")


def test_two_sizes_from_one_decode_equal_two_separate_decodes(bikes_mp4: Path) -> None:
    items = list(iter_frames(bikes_mp4, [*INDICES[::-1], 40], sizes=[256, None]))
    assert [i for i, _ in items] == INDICES  # distinct, increasing
    small, full = (np.stack([images[k] for _, images in items]) for k in (0, 1))
    assert small.shape == (8, 256, 602, 3) and full.shape == (8, 272, 640, 3)
    np.testing.assert_array_equal(small, read_frames(bikes_mp4, INDICES, shorter_side=256))
    np.testing.assert_array_equal(full, read_frames(bikes_mp4, INDICES))
    assert not np.array_equal(full[0], full[1])  # different frames, not one repeated


def test_the_second_size_only_for_some_frames(bikes_mp4: Path) -> None:
    items = dict(iter_frames(bikes_mp4, INDICES, sizes=[256, None], more_sizes_for=INDICES[:3]))
    assert [len(items[i]) for i in INDICES] == [2, 2, 2] + [1] * 5
    np.testing.assert_array_equal(
        np.stack([items[i][0] for i in INDICES]), read_frames(bikes_mp4, INDICES, shorter_side=256)
    )
    np.testing.assert_array_equal(np.stack([items[i][1] for i in INDICES[:3]]), read_frames(bikes_mp4, INDICES[:3]))


def test_overlapped_cubes_equal_the_plain_backbone_pass(bikes_mp4: Path, backbone) -> None:
    threads = torch.get_num_threads()
    done = embed_while_decoding(backbone, iter_frames(bikes_mp4, INDICES, sizes=[SQUARE, None], threads=1))
    assert torch.get_num_threads() == threads
    assert sorted(done.cubes) == INDICES and sum(done.passes) == len(INDICES)
    assert all(len(done.extra[i]) == 1 and done.extra[i][0].shape == (272, 640, 3) for i in INDICES)
    crops = torch.from_numpy(read_frames(bikes_mp4, INDICES, shorter_side=SQUARE))
    plain = embed_frames(backbone, [crops], 64)[0]
    overlapped = torch.stack([done.cubes[i] for i in INDICES])
    assert overlapped.dtype == torch.float16 and overlapped.shape == (8, 1280, 7, 7)
    assert torch.equal(overlapped, plain)  # the same passes: bit for bit what extraction writes
    assert done.decode_seconds > 0 and done.backbone_seconds >= 0


def test_a_decoding_error_is_raised_in_the_caller(tmp_path: Path, ud810_dir: Path, backbone) -> None:
    threads = torch.get_num_threads()
    path = truncated_copy(ud810_dir / "PS7A1P1T1.avi", tmp_path / "PS7A1P1T1.avi")
    with pytest.raises(VideoError, match="truncated or corrupt") as caught:
        embed_while_decoding(backbone, iter_frames(path, [0, 5, 10, 15, 20, 100], sizes=[SQUARE], threads=1))
    assert str(caught.value).startswith(str(path))
    assert torch.get_num_threads() == threads


def test_a_videos_cubes_do_not_depend_on_the_videos_beside_it(bikes_mp4: Path, backbone) -> None:
    threads = torch.get_num_threads()
    frames = torch.from_numpy(read_frames(bikes_mp4, list(range(0, 250, 10)), shorter_side=SQUARE))
    a, b = frames[:7], frames[7:]  # 7 frames: passes of CPU_CHUNK and a shorter one
    assert len(a) % CPU_CHUNK
    alone = embed_frames(backbone, [a], 64)[0]
    together = embed_frames(backbone, [b[:3], a, b[3:]], 64)
    assert [len(c) for c in together] == [3, 7, len(b) - 3]
    assert torch.equal(together[1], alone)
    assert torch.get_num_threads() == threads
    # the same numbers as one plain batch, up to float16 rounding of slightly different sums
    with torch.inference_mode():
        reference = backbone(a).to(torch.float16)
    torch.testing.assert_close(alone.float(), reference.float(), atol=2e-2, rtol=1e-2)


def test_streamed_videos_come_back_in_order_with_their_own_cubes(bikes_mp4: Path, backbone) -> None:
    frames = torch.from_numpy(read_frames(bikes_mp4, list(range(0, 250, 10)), shorter_side=SQUARE))
    videos = [("a", [frames[:7]]), ("b", [frames[7:16], frames[16:25]]), ("c", [frames[:3]])]  # b: frames + flow
    threads = torch.get_num_threads()
    streamed = list(embed_stream(backbone, iter(videos), 64, ahead=1))
    assert torch.get_num_threads() == threads
    assert [key for key, _ in streamed] == ["a", "b", "c"]
    for (_, clips), (_, cubes) in zip(videos, streamed, strict=True):
        assert len(cubes) == len(clips)
        for clip, cube in zip(clips, cubes, strict=True):
            assert torch.equal(cube, embed_frames(backbone, [clip], 64)[0])
