"""The extraction job: videos -> sampled frames -> backbone (batched across videos) -> one float16 file per video.

Decoding runs ahead of the backbone: in threads of this process when the backbone is on the CPU (``prefetch``), in
DataLoader worker processes when it is on CUDA (or ``workers`` asks for them); finished videos are skipped on a
re-run; work is split with ``shard=(i, n)`` or automatically from RANK / WORLD_SIZE under torchrun.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from wherewhen.backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from wherewhen.errors import ConfigError
from wherewhen.features.decoding import DecodeDataset, DecodedVideo
from wherewhen.features.forward import embed_stream
from wherewhen.features.prefetch import decoded_ahead, decoding_threads
from wherewhen.features.store import FeatureStore, StoreInfo
from wherewhen.memory import pin_mmap_threshold
from wherewhen.progress import progress_bar
from wherewhen.video.records import VideoRecord
from wherewhen.video.sampling import SamplingSpec


@dataclass
class ExtractOptions:
    backbone: str = DEFAULT_BACKBONE
    weights: Path | None = None
    sampling: SamplingSpec = field(default_factory=SamplingSpec)
    batch_size: int = 64  # frames per backbone forward pass on CUDA (CPU passes are smaller: features.forward)
    # decoding processes; None = on CPU, threads of this process (features.prefetch), on CUDA one process per spare
    # core (at least one); 0 = decode in this thread, between the backbone's passes
    workers: int | None = None
    device: str | None = None  # None = CUDA when present
    flow: str | None = None  # optical-flow method ("dis" or "farneback") to also write flow cubes
    shard: tuple[int, int] | None = None  # (index, count); None = from RANK/WORLD_SIZE, else (0, 1)
    progress: bool = True


@dataclass
class ExtractSummary:
    store: Path
    total: int = 0  # videos in this shard
    written: int = 0
    skipped: int = 0  # already finished before this run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video, one-line error)
    frames: int = 0
    seconds: float = 0.0

    @property
    def videos_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def shard_from_env() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) under torchrun or any launcher that sets them, else (0, 1)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes INDEX/COUNT such as 0/4, got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text}: need 0 <= INDEX < COUNT")
    return index, count


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def default_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def extract_videos(
    records: Sequence[VideoRecord],
    out: str | Path,
    options: ExtractOptions | None = None,
    classes: list[str] | None = None,
    backbone: Backbone | None = None,
) -> ExtractSummary:
    """Extract feature cubes of ``records`` into the store at ``out`` and return what happened."""
    options = options or ExtractOptions()
    ids = [r.video_id for r in records]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"two videos share the id {duplicate!r}; give them unique file names")
    device = torch.device(options.device) if options.device else default_device()
    backbone = backbone or load_backbone(options.backbone, options.weights, device)
    spec = backbone.spec
    store = FeatureStore.create(
        out,
        StoreInfo(
            backbone=spec.name,
            input_size=spec.input_size,
            grid=spec.grid,
            channels=spec.channels,
            sampling=options.sampling.to_dict() | {"resize": spec.resize},
            flow=bool(options.flow),
            classes=list(classes or sorted({r.label for r in records if r.label})),
        ),
    )
    index, count = options.shard or shard_from_env()
    mine = sorted(records, key=lambda r: r.video_id)[index::count]
    todo = [r for r in mine if not store.is_done(r.video_id, need_flow=bool(options.flow))]
    summary = ExtractSummary(store=store.root, total=len(mine), skipped=len(mine) - len(todo))
    start = time.perf_counter()
    bar = progress_bar(total=len(todo), unit="video", show=options.progress, desc=f"extract {spec.name}", smoothing=0.1)
    try:
        dataset = DecodeDataset(todo, options.sampling, spec.resize, spec.input_size, options.flow)

        def decoded() -> Iterator[tuple[DecodedVideo, list[torch.Tensor]]]:
            for v in _decoded(dataset, options.workers, backbone.device):
                if v.error is None:
                    assert v.frames is not None
                    yield v, [v.frames] + ([v.flow_frames] if v.flow_frames is not None else [])
                    continue
                store.record_failure(v.video_id, v.video, v.error)
                summary.failed.append((v.video, v.error))
                bar.update(1)

        for v, cubes in embed_stream(backbone, decoded(), options.batch_size):
            assert v.record is not None
            store.write(v.record, cubes[0], cubes[1] if options.flow else None)
            summary.written += 1
            summary.frames += len(v.record.frame_indices) * (2 if options.flow else 1)
            summary.seconds = time.perf_counter() - start
            bar.set_postfix_str(f"{summary.frames_per_second:.1f} frames/s, {len(summary.failed)} failed", False)
            bar.update(1)  # draws that postfix (set above without a redraw) when the bar's interval has passed
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - start
        store.write_manifest()
    return summary


def _decoded(dataset: DecodeDataset, workers: int | None, device: torch.device) -> Iterator[DecodedVideo]:
    if len(dataset) == 0:
        return iter(())
    if workers is None and device.type == "cpu":
        return decoded_ahead(dataset, decoding_threads())
    workers = default_workers() if workers is None else workers
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=min(workers, len(dataset)),
        prefetch_factor=4 if workers else None,
        collate_fn=lambda item: item,
        worker_init_fn=pin_mmap_threshold,
    )
    return iter(loader)
