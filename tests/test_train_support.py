"""Helpers for the training tests (no tests here): small real FeatureStores written with FeatureStore.write.

The cubes are random float16 maps with a learnable class signal: class c lights up channel block c at a
class-specific cell in the middle rows of the clip, the way an action fills the middle of a ud810 clip.
"""

from __future__ import annotations

from pathlib import Path

import torch

from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo


def make_store(
    root: Path,
    *,
    videos: int = 24,
    classes: int = 3,
    frames: int = 8,
    channels: int = 16,
    grid: int = 3,
    groups: int = 6,
    splits: dict[str, int] | None = None,
    class_names: list[str] | None = None,
    seed: int = 0,
    signal: float = 1.5,
    channels_on_disk: int | None = None,
    flow: bool = False,
) -> FeatureStore:
    """A store with ``videos`` videos per split in ``splits`` (default: all "train"), labels cycling over classes.

    Video i has label ``i % classes`` and group ``p{(i // classes) % groups}``, so every group holds every class
    (like the people of ud810).
    ``channels_on_disk`` writes cubes with another D than store.json promises (a broken store). ``flow`` adds
    flow cubes carrying the same class signal.
    """
    names = class_names or [f"action{c}" for c in range(classes)]
    info = StoreInfo(
        backbone="synthetic",
        input_size=224,
        grid=grid,
        channels=channels,
        sampling={"method": "uniform", "frames": frames},
        classes=names,
        flow=flow,
    )
    store = FeatureStore.create(root, info)
    gen = torch.Generator().manual_seed(seed)
    d = channels_on_disk or channels
    block = max(1, d // len(names))
    for split, count in (splits or {"train": videos}).items():
        for i in range(count):
            label = i % len(names)
            cube = torch.rand(frames, d, grid, grid, generator=gen) * 0.5
            cell = label % (grid * grid)
            middle = slice(frames // 4, frames - frames // 4)
            cube[middle, label * block : (label + 1) * block, cell // grid, cell % grid] += signal
            video_id = f"{split}_{i:03d}"
            record = FeatureRecord(
                video_id=video_id,
                video=f"{video_id}.avi",
                label=names[label],
                split=split,
                group=f"p{(i // len(names)) % groups}",
                frame_indices=list(range(0, 4 * frames, 4)),
                clips=[list(range(frames))],
                fps=25.0,
                num_frames=4 * frames,
                duration=4 * frames / 25.0,
                frame_size=(320, 240),
                crop=(40.0, 0.0, 240.0, 240.0),
            )
            store.write(record, cube, flow=cube.flip(0) if flow else None)
    store.write_manifest()
    return store
