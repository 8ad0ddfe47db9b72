"""Run a model over the records of a feature store, batched, and keep per-clip outputs as numpy arrays.

Nothing here decides a protocol: ``aggregation`` turns clips into video probabilities, ``spatial`` and ``temporal``
turn the maps and weights into boxes and segments. The model is only called through ``forward`` and read through
the fields of ``ModelOutput``; the extra inputs it declares (a frame mask) are built per clip by
``wherewhen.models.inputs`` from ``InputSources``, as training builds them.

Clips of a video (``ClipPlan``): the record's own ``clips`` (row positions per clip), or windows of ``window`` rows
every ``stride`` rows over all rows (sliding windows over an untrimmed video; the last window is aligned to the
end); ``num_clips`` then keeps that many clips evenly spaced among them; ``frames`` = T then takes T rows of each
clip at the centres of T equal segments, the rows training's validation uses (``features.clips.one_row_per_segment``;
a clip shorter than T repeats rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from wherewhen.errors import ConfigError, DatasetError
from wherewhen.features.clips import one_row_per_segment, record_clips
from wherewhen.features.store import FeatureRecord, FeatureStore
from wherewhen.models.inputs import InputSources, clip_inputs, declared_inputs, stack_inputs


@dataclass
class ClipOutput:
    """One forward pass over one clip (T rows of the video)."""

    rows: np.ndarray  # (T,) row positions in the video's cube
    probabilities: np.ndarray  # (C,) softmax of the model's video logits
    frame_probabilities: np.ndarray | None  # (T, C) softmax of frame logits, or None
    spatial: np.ndarray  # (T, K, K)
    temporal: np.ndarray  # (T,) sums to 1


@dataclass
class VideoPrediction:
    """All clips of one video, and its record (ground truth, times, crop)."""

    record: FeatureRecord
    target: int | None
    clips: list[ClipOutput]
    num_rows: int

    @property
    def times(self) -> np.ndarray:
        """(T_video,) time in seconds of every cube row."""
        return np.asarray(self.record.times, dtype=np.float64)

    def clip_probabilities(self) -> np.ndarray:
        """(N, C) the model's class probabilities per clip."""
        return np.stack([c.probabilities for c in self.clips])

    def spatial_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """(T_video, K, K) map per row, the mean over the clips that cover it, and the (T_video,) covered mask."""
        k = self.clips[0].spatial.shape[1:]
        total = np.zeros((self.num_rows, *k), dtype=np.float64)
        count = np.zeros(self.num_rows, dtype=np.int64)
        for clip in self.clips:
            np.add.at(total, clip.rows, clip.spatial)
            np.add.at(count, clip.rows, 1)
        covered = count > 0
        total[covered] /= count[covered, None, None]
        return total, covered


def sliding_windows(num_rows: int, window: int, stride: int | None = None) -> list[list[int]]:
    """Windows of ``window`` rows every ``stride`` rows; the last one ends at the last row; one window if short."""
    if window < 1:
        raise ConfigError(f"window must be at least 1 row, got {window}")
    stride = window if stride is None else stride
    if stride < 1:
        raise ConfigError(f"stride must be at least 1 row, got {stride}")
    if num_rows <= window:
        return [list(range(num_rows))]
    starts = list(range(0, num_rows - window + 1, stride))
    if starts[-1] + window < num_rows:
        starts.append(num_rows - window)
    return [list(range(s, s + window)) for s in starts]


@dataclass(frozen=True)
class ClipPlan:
    """Which rows of a video go through the model, clip by clip (see the module docstring)."""

    num_clips: int | None = None  # None: every clip
    window: int | None = None  # rows per sliding window; None: the record's own clips
    stride: int | None = None  # rows between window starts; None: the window length
    frames: int | None = None  # T rows per clip at segment centres; None or 0: every row of the clip

    def describe(self) -> str:
        text = "the record's clips" if self.window is None else f"windows of {self.window} rows"
        if self.window is not None:
            text += f" every {self.stride or self.window} rows"
        if self.num_clips is not None:
            text += f", at most {self.num_clips} evenly spaced"
        if self.frames:
            text += f", {self.frames} rows per clip at segment centres"
        return text


def select_clips(record: FeatureRecord, plan: ClipPlan = ClipPlan()) -> list[list[int]]:
    """Row positions of each clip to evaluate for one video."""
    num_rows = len(record.frame_indices)
    clips = sliding_windows(num_rows, plan.window, plan.stride) if plan.window is not None else record_clips(record)
    bad = [r for c in clips for r in c if not 0 <= r < num_rows]
    if bad:
        raise DatasetError(record.video, f"clip row {bad[0]} is outside the cube's {num_rows} rows")
    if plan.num_clips is not None:
        if plan.num_clips < 1:
            raise ConfigError(f"--clips must be at least 1, got {plan.num_clips}")
        if plan.num_clips < len(clips):
            picks = np.linspace(0, len(clips) - 1, plan.num_clips).round().astype(int)
            clips = [clips[i] for i in picks]
    if plan.frames:
        if plan.frames < 0:
            raise ConfigError(f"--frames must be at least 0, got {plan.frames}")
        clips = [[c[p] for p in one_row_per_segment(len(c), plan.frames)] for c in clips]
    return clips


def class_targets(records: Sequence[FeatureRecord], classes: Sequence[str]) -> list[int | None]:
    """Class index of each record's label (None for unlabelled records); an unknown label is an error."""
    index = {c: i for i, c in enumerate(classes)}
    targets: list[int | None] = []
    for rec in records:
        if rec.label is None:
            targets.append(None)
        elif rec.label not in index:
            raise DatasetError(rec.video, f"label {rec.label!r} is not one of the model's {len(classes)} classes")
        else:
            targets.append(index[rec.label])
    return targets


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


# video position, rows, cubes, flow, the model's extra inputs of the clip (``models.inputs.clip_inputs``)
_Pending = tuple[int, np.ndarray, torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]


@torch.inference_mode()
def forward_clips(model: nn.Module, batch: list[_Pending]) -> list[tuple[int, ClipOutput]]:
    """A batch of same-length clips through the model; each clip's outputs, tagged with its video position."""
    device = _device_of(model)
    cubes = torch.stack([b[2] for b in batch]).to(device)  # stored float16: the model casts them
    flows = [b[3] for b in batch]
    flow = None if flows[0] is None else torch.stack([f for f in flows if f is not None]).to(device)
    out = model(cubes, flow, **stack_inputs([b[4] for b in batch], device))
    probs = out.logits.float().softmax(-1).cpu().numpy()
    frame = None if out.frame_logits is None else out.frame_logits.float().softmax(-1).cpu().numpy()
    spatial = out.spatial.float().cpu().numpy()
    temporal = out.temporal.float().cpu().numpy()
    return [
        (
            video_pos,
            ClipOutput(
                rows=rows,
                probabilities=probs[i],
                frame_probabilities=None if frame is None else frame[i],
                spatial=spatial[i],
                temporal=temporal[i],
            ),
        )
        for i, (video_pos, rows, *_) in enumerate(batch)
    ]


def keys_for(model: nn.Module) -> tuple[str, ...]:
    """The cube kinds a model reads: flow too when its class says ``uses_flow``."""
    return ("rgb", "flow") if getattr(model, "uses_flow", False) else ("rgb",)


def _run_clips(
    model: nn.Module,
    store: FeatureStore,
    records: Sequence[FeatureRecord],
    keys: tuple[str, ...],
    plan: ClipPlan,
    batch_size: int,
    progress: Callable[[Iterable[FeatureRecord]], Iterable[FeatureRecord]] | None,
    sources: InputSources,
) -> list[list[ClipOutput]]:
    outputs: list[list[ClipOutput]] = [[] for _ in records]
    names = declared_inputs(model)
    pending: dict[int, list[_Pending]] = {}  # clip length -> batch waiting for more clips of that length

    def flush(length: int) -> None:
        for video_pos, clip in forward_clips(model, pending.pop(length)):
            outputs[video_pos].append(clip)

    iterator = progress(records) if progress is not None else records
    for video_pos, rec in enumerate(iterator):
        tensors = store.load(rec.video_id, keys)
        rgb, flow = tensors["rgb"], tensors.get("flow")
        if rgb.shape[0] != len(rec.frame_indices):
            raise DatasetError(
                store.path_for(rec.video_id), f"cube has {rgb.shape[0]} rows, record {len(rec.frame_indices)}"
            )
        for rows in select_clips(rec, plan):
            idx = torch.as_tensor(rows, dtype=torch.long)
            extra = clip_inputs(names, sources, rec.video_id, rows)
            item = (video_pos, np.asarray(rows), rgb[idx], None if flow is None else flow[idx], extra)
            pending.setdefault(len(rows), []).append(item)
            if len(pending[len(rows)]) >= batch_size:
                flush(len(rows))
    for length in list(pending):
        flush(length)
    return outputs


def predict_records(
    model: nn.Module,
    store: FeatureStore,
    records: Sequence[FeatureRecord],
    classes: Sequence[str],
    *,
    plan: ClipPlan = ClipPlan(),
    batch_size: int = 16,
    progress: Callable[[Iterable[FeatureRecord]], Iterable[FeatureRecord]] | None = None,
    sources: InputSources = InputSources(),
) -> list[VideoPrediction]:
    """Every clip of every record through ``model`` in eval mode (its mode is restored after), batched by clip length;
    the model's extra inputs made from ``sources``.

    Cubes are read one video at a time, so memory holds one batch of cubes plus the (small) outputs.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    targets = class_targets(records, classes)
    was_training = model.training
    model.eval()
    try:
        outputs = _run_clips(model, store, records, keys_for(model), plan, batch_size, progress, sources)
    finally:
        model.train(was_training)
    return [
        VideoPrediction(
            record=rec, target=t, clips=sorted(outs, key=lambda c: int(c.rows[0])), num_rows=len(rec.frame_indices)
        )
        for rec, t, outs in zip(records, targets, outputs, strict=True)
    ]
