"""Clips of cached feature cubes as a torch Dataset, and the train / validation split of a feature store.

Training draws one clip per video per epoch and picks T of its rows TSN-style: the clip's R rows are cut into T
equal segments and one row is taken from each, at a random offset when training with jitter, at the centre
otherwise (R < T repeats rows). Validation and testing take every clip of every video, centred. Randomness comes
from a generator seeded by (seed, epoch, item), so it does not depend on worker processes, ranks or resuming.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from wherewhen.errors import ConfigError, FeatureStoreError
from wherewhen.evaluate.truth import box_cells, segment_rows
from wherewhen.features.clips import one_row_per_segment, record_clips
from wherewhen.features.store import FeatureRecord, FeatureStore
from wherewhen.models.inputs import InputSources, clip_inputs
from wherewhen.wording import count


class ClipDataset(Dataset[dict[str, Any]]):
    """Items are ``{"rgb": float16 (T, D, K, K), ["flow": same], "label": int, "video": int}`` and the model's
    extra ``inputs`` (``models.inputs``: ``"frame_mask"`` (T,) from ``selection``); with ``truth=True`` also
    ``"box_cells"`` (T, K, K) and ``"segment"`` (T,) bool (``evaluate.truth``; all False for a video without
    annotations).

    ``video`` indexes ``records``, so clip scores can be averaged per video. With ``train=True`` there is one item
    per video (a random clip each epoch); otherwise one item per clip.
    """

    def __init__(
        self,
        store: FeatureStore,
        records: list[FeatureRecord],
        classes: list[str],
        frames: int,
        *,
        train: bool,
        jitter: bool = True,
        seed: int = 0,
        flow: bool = False,
        selection: dict[str, list[int]] | None = None,
        truth: bool = False,
        inputs: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.truth = truth
        self.sources = InputSources(selection=selection)
        self.inputs = inputs
        self.records = records
        self.class_index = {c: i for i, c in enumerate(classes)}
        self.labels = [self.class_index[r.label] for r in records]  # type: ignore[index]
        self.frames = frames
        self.train = train
        self.jitter = jitter
        self.seed = seed
        self.keys = ("rgb", "flow") if flow else ("rgb",)
        self.epoch = 0
        self.clips = [record_clips(r) for r in records]
        if train:
            self.items = [(v, -1) for v in range(len(records))]
        else:
            self.items = [(v, c) for v, clips in enumerate(self.clips) for c in range(len(clips))]

    def set_epoch(self, epoch: int) -> None:
        """Training items of a new epoch draw new clips and offsets (call before iterating)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        video, clip = self.items[index]
        record = self.records[video]
        clips = self.clips[video]
        offsets = None
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, video])
            clip = int(rng.integers(len(clips)))
            if self.jitter:
                offsets = rng.random(self.frames)
        rows = clips[clip]
        picked = [rows[p] for p in one_row_per_segment(len(rows), self.frames, offsets)]
        tensors = self.store.load(record.video_id, keys=self.keys)
        item: dict[str, Any] = {"label": self.labels[video], "video": video}
        item.update(clip_inputs(self.inputs, self.sources, record.video_id, picked))
        if self.truth:
            item["box_cells"] = torch.from_numpy(box_cells(record, self.store.info.grid)[picked])
            item["segment"] = torch.from_numpy(segment_rows(record)[picked])
        for key, cube in tensors.items():
            if cube.dim() != 4 or max(picked) >= cube.shape[0]:
                raise FeatureStoreError(
                    self.store.path_for(record.video_id),
                    f"{key} cube of shape {tuple(cube.shape)} does not hold the rows {max(picked)} its record names",
                )
            item[key] = cube[picked]
        return item


@dataclass
class SplitPlan:
    """Which videos train, which validate (never the test split)."""

    classes: list[str]
    train: list[FeatureRecord]
    val: list[FeatureRecord]
    val_source: str  # "carved from <split>" or the name of the store's validation split, or "none"


def labelled_split(
    store: FeatureStore, split: str, classes: list[str], records: list[FeatureRecord]
) -> list[FeatureRecord]:
    """Records of one split, checking each has a label from the store's class list."""
    chosen = [r for r in records if r.split == split]
    _check_labels(store, chosen, classes)
    return chosen


def _check_labels(store: FeatureStore, records: list[FeatureRecord], classes: list[str]) -> None:
    known = set(classes)
    for r in records:
        if r.label not in known:
            raise FeatureStoreError(
                store.path_for(r.video_id),
                f"label {r.label!r} of split {r.split!r} is not one of the store's classes ({', '.join(classes)})",
            )


def plan_splits(
    store: FeatureStore,
    *,
    train_split: str,
    val_split: str,
    val_fraction: float,
    seed: int,
    fixed: dict[str, Any] | None = None,
) -> SplitPlan:
    """Train and validation records of ``store``; ``fixed`` (video ids per split, from a run to resume) wins."""
    classes = list(store.info.classes)
    if len(classes) < 2:
        listed = count(len(classes), "class")
        raise FeatureStoreError(store.info_path, f"store lists {listed}; training needs at least 2")
    records = store.records()
    if fixed is not None:
        by_id = {r.video_id: r for r in records}
        picked: dict[str, list[FeatureRecord]] = {}
        for name in ("train", "val"):
            missing = [v for v in fixed.get(name, []) if v not in by_id]
            if missing:
                raise FeatureStoreError(
                    store.root, f"the run's {name} videos {', '.join(missing[:3])} are not in this store"
                )
            picked[name] = [by_id[v] for v in fixed.get(name, [])]
            _check_labels(store, picked[name], classes)
        return SplitPlan(classes, picked["train"], picked["val"], str(fixed.get("val_source", "fixed by the run")))
    train = labelled_split(store, train_split, classes, records)
    if not train:
        present = Counter(r.split for r in records)
        listing = ", ".join(f"{k} ({n})" for k, n in sorted(present.items())) or "none: the store is empty"
        raise FeatureStoreError(
            store.root, f"no videos in split {train_split!r} to train on; splits present: {listing}"
        )
    if val_split:
        val = labelled_split(store, val_split, classes, records)
        if not val:
            raise FeatureStoreError(store.root, f"no videos in validation split {val_split!r}")
        return SplitPlan(classes, train, val, val_split)
    if val_fraction <= 0:
        return SplitPlan(classes, train, [], "none")
    index = {c: i for i, c in enumerate(classes)}
    val_mask = carve_validation([index[r.label] for r in train], [r.group for r in train], val_fraction, seed)  # type: ignore[index]
    kept = [r for r, v in zip(train, val_mask, strict=True) if not v]
    val = [r for r, v in zip(train, val_mask, strict=True) if v]
    return SplitPlan(classes, kept, val, f"carved from {train_split}")


def carve_validation(labels: list[int], groups: list[str | None], fraction: float, seed: int) -> list[bool]:
    """Mark whole groups as validation so each class gets about ``fraction`` of its videos there.

    Groups (a person, a UCF101 group) never straddle the two sides; a video without a group is its own group.
    Greedy: groups in random order (seeded), largest first, join validation when that lowers the squared relative
    gap sum_c ((v_c - f n_c) / (f n_c))^2 between validation counts v_c and the targets f n_c. At least one group
    goes to validation and at least one stays for training.
    """
    keys = [g if g is not None else f"\0video{i}" for i, g in enumerate(groups)]
    members: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    if len(members) < 2:
        raise ConfigError(
            "cannot carve a validation split: the training videos form a single group; "
            "set data.val_fraction=0 or name a data.val_split"
        )
    num_classes = max(labels) + 1
    counts = {k: np.bincount([labels[i] for i in idx], minlength=num_classes) for k, idx in members.items()}
    target = fraction * np.bincount(labels, minlength=num_classes).astype(np.float64)
    scale = np.maximum(target, 1e-9)
    rng = np.random.default_rng(seed)
    order = [list(members)[i] for i in rng.permutation(len(members))]
    order.sort(key=lambda k: -len(members[k]))  # stable: random order among equal sizes

    def gap(v: np.ndarray) -> float:
        return float((((v - target) / scale)[target > 0] ** 2).sum())

    val_counts = np.zeros(num_classes)
    chosen: list[str] = []
    for k in order:
        if gap(val_counts + counts[k]) < gap(val_counts):
            val_counts += counts[k]
            chosen.append(k)
    if not chosen:
        chosen = [min(order, key=lambda k: gap(counts[k]))]
    if len(chosen) == len(members):
        chosen.remove(min(chosen, key=lambda k: len(members[k])))
    picked = set(chosen)
    return [k in picked for k in keys]


def resolve_frames(frames: int, records: list[FeatureRecord]) -> int:
    """``frames`` if set, else the longest clip of ``records``."""
    if frames > 0:
        return frames
    longest = max((len(c) for r in records for c in record_clips(r)), default=0)
    if longest < 1:
        raise ConfigError("no clip in the training split has any rows; set data.frames")
    return longest


def clip_count(records: list[FeatureRecord]) -> int:
    return sum(len(record_clips(r)) for r in records)


def collate(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack items (every tensor: cubes, the model's extra inputs, ground truth); cubes stay float16 here and become
    float32 on the training device."""
    batch: dict[str, torch.Tensor] = {
        "label": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "video": torch.tensor([it["video"] for it in items], dtype=torch.long),
    }
    for key, value in items[0].items():
        if isinstance(value, torch.Tensor):
            batch[key] = torch.stack([it[key] for it in items])
    return batch


def clip_batches(
    store: FeatureStore,
    records: list[FeatureRecord],
    classes: list[str],
    frames: int,
    model: Any,
    batch_size: int,
    selection: dict[str, list[int]] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Every clip of ``records`` in order, without augmentation, collated in the inputs ``model`` reads."""
    clips = ClipDataset(store, records, classes, frames, train=False, flow=model.uses_flow, selection=selection,
                        inputs=model.extra_inputs)  # fmt: skip
    return list(DataLoader(clips, batch_size=batch_size, collate_fn=collate))
