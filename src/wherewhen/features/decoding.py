"""The decoding half of extraction: a video record -> sampled, resized, centre-cropped uint8 frames.

Runs in DataLoader workers so decoding overlaps with the backbone; every failure becomes a message, never an
exception that would stop the loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from wherewhen.errors import WherewhenError
from wherewhen.features.store import FeatureRecord
from wherewhen.video.decode import Size, iter_frames
from wherewhen.video.flow import flow_image
from wherewhen.video.probe import VideoInfo, probe
from wherewhen.video.records import VideoRecord
from wherewhen.video.sampling import Sampled, SamplingSpec, sample
from wherewhen.video.transforms import CenterSquare, center_crop_box


@dataclass
class DecodedVideo:
    """One video ready for the backbone, or the reason it is not."""

    record: FeatureRecord | None
    frames: torch.Tensor | None  # uint8 (T, S, S, 3)
    flow_frames: torch.Tensor | None  # uint8 (T, S, S, 3) flow images, with --flow
    video_id: str
    video: str
    error: str | None = None
    display: dict[int, np.ndarray] = field(default_factory=dict)  # {frame index: frame at a display size}


class DecodeDataset(Dataset[DecodedVideo]):
    def __init__(
        self,
        records: list[VideoRecord],
        sampling: SamplingSpec,
        resize: int,
        size: int,
        flow: str | None = None,
        skip_b_pictures: bool = True,
    ) -> None:
        self.records = records
        self.skip_b_pictures = skip_b_pictures  # False: decode every picture (the same frames, more work)
        self.sampling = sampling
        self.resize = resize
        self.size = size
        self.flow = flow

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> DecodedVideo:
        rec = self.records[i]
        try:
            return self.decode(rec)
        except WherewhenError as exc:
            return DecodedVideo(None, None, None, rec.video_id, str(rec.path), str(exc))
        except Exception as exc:  # a decoder crash must not stop the other videos
            message = f"{rec.path}: unexpected decoding failure ({type(exc).__name__}: {exc})"
            return DecodedVideo(None, None, None, rec.video_id, str(rec.path), " ".join(message.split()))

    def decode(
        self, rec: VideoRecord, info: VideoInfo | None = None, display_side: int | None = None, shown: int = 0
    ) -> DecodedVideo:
        """One record's sampled frames and its feature record; failures raise (``__getitem__`` turns them into
        a message). With ``shown`` > 0, ``display`` also holds the first ``shown`` sampled frames with their
        shorter side at ``display_side`` (None: original size), converted from the same decoded pictures."""
        info, sampled = self.plan(rec, info)
        indices = list(sampled.frame_indices)
        # flow pairs each frame with the next one (the previous for the last): one pass over the video for both
        partners = [i + 1 if i + 1 < info.num_frames else i - 1 for i in indices] if self.flow else []
        squares, display = {}, {}
        for i, images in self.pictures(info, indices, partners, display_side, shown):
            squares[i] = images[0]
            if len(images) > 1:
                display[i] = images[1]
        frames = np.stack([squares[i] for i in indices])
        flow_frames = None
        if self.flow:
            pairs = [(squares[min(i, p)], squares[max(i, p)]) for i, p in zip(indices, partners, strict=True)]
            flow_frames = torch.from_numpy(np.stack([flow_image(a, b, method=self.flow) for a, b in pairs]))
        record = self.feature_record(rec, info, sampled)
        return DecodedVideo(record, torch.from_numpy(frames), flow_frames, rec.video_id, str(rec.path), None, display)

    def pictures(
        self,
        info: VideoInfo,
        indices: list[int],
        also: list[int] | None = None,
        display_side: int | None = None,
        shown: int = 0,
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """(index, [backbone square, display image]) of the frames ``indices`` and ``also`` (flow partners) in one
        pass over the video, as they are decoded; the display image (shorter side ``display_side``) only for the
        first ``shown`` distinct frames of ``indices``."""
        first = sorted(set(indices))[:shown]
        sizes: list[Size] = [self.square, display_side] if first else [self.square]
        return iter_frames(
            info.path,
            indices + (also or []),
            info=info,
            sizes=sizes,
            threads=1,
            more_sizes_for=first,
            skip_unwanted=self.skip_b_pictures,
        )

    def plan(self, rec: VideoRecord, info: VideoInfo | None = None) -> tuple[VideoInfo, Sampled]:
        """The video's probe (``info`` when given) and the frames this sampling takes from it (raises on an
        unreadable video)."""
        info = info or probe(rec.path)
        return info, sample(self.sampling, info.num_frames, info.fps, key=rec.video_id)

    def feature_record(self, rec: VideoRecord, info: VideoInfo, sampled: Sampled) -> FeatureRecord:
        """What the store keeps beside the cubes of ``rec`` sampled as ``sampled``."""
        indices = sampled.frame_indices
        return FeatureRecord(
            video_id=rec.video_id,
            video=str(rec.path),
            label=rec.label or None,
            split=rec.split,
            group=rec.group,
            frame_indices=list(indices),
            clips=sampled.clips,
            fps=info.fps,
            num_frames=info.num_frames,
            duration=info.duration,
            frame_size=info.frame_size,
            crop=center_crop_box(info.width, info.height, self.resize, self.size),
            segments=[(s.start, s.end, s.label) for s in rec.segments],
            boxes=boxes_at(rec, info, indices),
        )

    @property
    def square(self) -> CenterSquare:
        """What each sampled frame becomes: the backbone's centred square."""
        return CenterSquare(self.resize, self.size)


def boxes_at(rec: VideoRecord, info: VideoInfo, indices: list[int]) -> list[tuple[float, float, float, float] | None]:
    """The ground-truth box of each sampled frame in original pixels (first track holding the frame), else None."""
    if not rec.tracks:
        return [None] * len(indices)
    tracks = [t.scaled(info.width, info.height) for t in rec.tracks]
    out: list[tuple[float, float, float, float] | None] = []
    for index in indices:
        box = next((t.boxes[index] for t in tracks if index in t.boxes), None)
        out.append(None if box is None else tuple(float(v) for v in box))  # type: ignore[misc]
    return out
