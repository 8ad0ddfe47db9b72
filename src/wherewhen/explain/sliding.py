"""Long, untrimmed videos explained as sliding clips, streamed in bounded memory.

Rows are frames every 1/``rate`` seconds over the whole video (``video.sampling.fps_indices``); clips are windows
of ``window`` rows every ``stride`` rows, the last one ending at the last row (``evaluate.predict.sliding_windows``).
The defaults suit the model's training clips: ``window`` = the T rows per clip the run trained with, ``rate`` = T
over the length of a training clip (the median video of the run's feature store, or a sliding store's own window),
``stride`` = half a window. Frames are decoded in time order and embedded in chunks while the next chunk decodes
(``features.forward.embed_stream``); a clip goes through the model as soon as its last row is embedded, and a row's
cube is dropped once no clip ahead needs it. Memory thus holds a window of cubes and a few chunks of frames whatever
the length; the per-row outputs (a K x K map, a weight) are all that grows. Everything after the model is the same
as for a short video (``Explainer.explain_cubes``): one timeline over the whole video, segments with class and score.

``progress(done, total)`` hears of the rows embedded after every chunk; raising from it stops the work (a
cancelled job).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wherewhen.errors import ConfigError
from wherewhen.evaluate.predict import ClipOutput, VideoPrediction, forward_clips, sliding_windows
from wherewhen.explain.explainer import Explainer, one_line_errors
from wherewhen.explain.explanation import Explanation
from wherewhen.features.clips import one_row_per_segment
from wherewhen.features.forward import embed_stream
from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo
from wherewhen.models.inputs import InputSources, clip_inputs
from wherewhen.video.decode import iter_frames
from wherewhen.video.probe import VideoInfo, probe
from wherewhen.video.sampling import fps_indices
from wherewhen.video.transforms import CenterSquare, center_crop_box

Progress = Callable[[int, int], None]
DEFAULT_RATE = 2.0  # rows per second when the length of the training clips is unknown
LONG_FACTOR = 8.0  # by default, a video longer than this many training clips is explained as sliding clips
CHUNK = 16  # frames decoded, then embedded, at a time


@dataclass(frozen=True)
class SlidingPlan:
    window: int  # rows per clip
    stride: int  # rows between clip starts
    rate: float  # rows per second of video

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigError(f"--window must be at least 1 row, got {self.window}")
        if self.stride < 1:
            raise ConfigError(f"--stride must be at least 1 row, got {self.stride}")
        if not 0 < self.rate <= 120:
            raise ConfigError(f"--rate must lie in (0, 120] rows per second, got {self.rate}")

    def describe(self) -> str:
        return f"clips of {self.window} rows every {self.stride} rows, {self.rate:g} rows per second"


def training_clip_seconds(features: StoreInfo, store: Path | None) -> float | None:
    """How long a clip the model trained on lasts: a sliding store's window, else the median video of ``store``
    (each such video is one clip); None when neither tells."""
    sampling = features.sampling
    if sampling.get("strategy") == "sliding" and sampling.get("rate"):
        return float(sampling["frames"]) / float(sampling["rate"])
    if store is None or not (store / "store.json").is_file():
        return None
    durations = [r.duration for r in FeatureStore(store).records() if r.duration > 0]
    return float(statistics.median(durations)) if durations else None


def default_plan(
    explainer: Explainer,
    clip_seconds: float | None,
    window: int | None = None,
    stride: int | None = None,
    rate: float | None = None,
) -> SlidingPlan:
    """The plan with every option not given set to suit the training clips (see the module docstring)."""
    window = window or explainer._plan.frames or int(explainer._sampling.frames)
    if rate is None:
        rate = window / clip_seconds if clip_seconds else DEFAULT_RATE
    return SlidingPlan(window=window, stride=stride or max(1, window // 2), rate=round(rate, 3))


def is_long(duration: float, clip_seconds: float | None) -> bool:
    """Whether a video of ``duration`` seconds is explained as sliding clips by default."""
    return clip_seconds is not None and duration > LONG_FACTOR * clip_seconds


def explain_sliding(
    explainer: Explainer,
    video: str | Path,
    plan: SlidingPlan,
    *,
    info: VideoInfo | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """The explanation of ``video`` over its whole length, as sliding clips (see the module docstring)."""
    if explainer._reads_flow:
        raise ConfigError(f"model {explainer.model.name!r} reads flow cubes; sliding clips are for RGB models")
    path = Path(video).expanduser().resolve()
    with one_line_errors(path):
        info = info or probe(path)
        indices = fps_indices(info.num_frames, info.fps, plan.rate)
        record = sliding_record(explainer, path, info, indices, plan)
        clips = run_windows(explainer, record, embedded_rows(explainer, info, indices), progress)
    return explainer._assemble(VideoPrediction(record=record, target=None, clips=clips, num_rows=len(indices)))


def sliding_record(
    explainer: Explainer, path: Path, info: VideoInfo, indices: list[int], plan: SlidingPlan
) -> FeatureRecord:
    """The rows and clips of the video, as a feature store would record them."""
    return FeatureRecord(
        video_id=path.stem,
        video=str(path),
        label=None,
        split="test",
        group=None,
        frame_indices=indices,
        clips=sliding_windows(len(indices), plan.window, plan.stride),
        fps=info.fps,
        num_frames=info.num_frames,
        duration=info.duration,
        frame_size=info.frame_size,
        crop=center_crop_box(info.width, info.height, explainer._resize, explainer.features.input_size),
    )


def embedded_rows(explainer: Explainer, info: VideoInfo, indices: list[int]) -> Iterator[tuple[int, torch.Tensor]]:
    """(row, float16 cube (D, K, K)) of every row in order; a chunk decodes while the one before is embedded."""
    backbone = explainer.backbone
    square = CenterSquare(explainer._resize, explainer.features.input_size)
    position = {index: row for row, index in enumerate(indices)}

    def chunks() -> Iterator[tuple[list[int], list[torch.Tensor]]]:
        frames = iter_frames(info.path, indices, info=info, sizes=[square], threads=1)
        rows: list[int] = []
        images: list[np.ndarray] = []
        try:
            for index, decoded in frames:
                rows.append(position[index])
                images.append(decoded[0])
                if len(images) == CHUNK:
                    yield rows, [torch.from_numpy(np.stack(images))]
                    rows, images = [], []
            if images:
                yield rows, [torch.from_numpy(np.stack(images))]
        finally:
            frames.close()

    for rows, cubes in embed_stream(backbone, chunks(), explainer._batch_size, ahead=2):
        yield from zip(rows, cubes[0], strict=True)


def run_windows(
    explainer: Explainer,
    record: FeatureRecord,
    rows: Iterator[tuple[int, torch.Tensor]],
    progress: Progress | None,
) -> list[ClipOutput]:
    """Every clip of ``record`` through the model as soon as its rows are embedded; rows no later clip needs are
    dropped. A model that takes a frame selection attends to every row (the selection names a store's rows)."""
    windows, total = record.clips, len(record.frame_indices)
    picked = np.array([model_rows(explainer, w) for w in windows], dtype=np.int64)
    outputs = ClipOutputs(len(windows))
    buffer: dict[int, torch.Tensor] = {}
    pending: list[tuple] = []
    ready = 0  # the next window whose rows are not all embedded yet
    for done, (row, cube) in enumerate(rows, start=1):
        buffer[row] = cube
        while ready < len(windows) and max(windows[ready]) <= row:
            pending.append(clip_item(explainer, record.video_id, picked[ready], buffer))
            ready += 1
        if len(pending) >= explainer._clips_per_batch:
            outputs.add(forward_clips(explainer.model, pending))
            pending = []
        first_needed = min(windows[ready]) if ready < len(windows) else row + 1
        for old in [r for r in buffer if r < first_needed]:
            del buffer[old]
        if progress is not None and (done % CHUNK == 0 or done == total):
            progress(done, total)
    if pending:
        outputs.add(forward_clips(explainer.model, pending))
    return outputs.clips


class ClipOutputs:
    """The outputs of a video's clips, copied into arrays made once for all of them: outputs kept one batch at a
    time, each a small allocation just after the batch's large temporary ones, kept glibc's heap from reusing the
    space those freed, and the process grew with the length of the video."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrays: dict[str, np.ndarray] = {}
        self.clips: list[ClipOutput] = []

    def add(self, batch: list[tuple[int, ClipOutput]]) -> None:
        for _, clip in batch:
            k = len(self.clips)
            fields = {"probabilities": clip.probabilities, "spatial": clip.spatial, "temporal": clip.temporal}
            if clip.frame_probabilities is not None:
                fields["frame_probabilities"] = clip.frame_probabilities
            for name, value in fields.items():
                if name not in self.arrays:
                    self.arrays[name] = np.empty((self.count, *value.shape), dtype=value.dtype)
                self.arrays[name][k] = value
            frame = self.arrays["frame_probabilities"][k] if "frame_probabilities" in fields else None
            spatial, temporal = self.arrays["spatial"][k], self.arrays["temporal"][k]
            self.clips.append(ClipOutput(clip.rows, self.arrays["probabilities"][k], frame, spatial, temporal))


def model_rows(explainer: Explainer, window: Sequence[int]) -> list[int]:
    """The rows of a window the model sees: T at segment centres when the run trained with T rows per clip."""
    frames = explainer._plan.frames
    return [window[p] for p in one_row_per_segment(len(window), frames)] if frames else list(window)


def clip_item(explainer: Explainer, video_id: str, rows: np.ndarray, buffer: dict[int, torch.Tensor]) -> tuple:
    cubes = torch.stack([buffer[int(r)] for r in rows])
    extra = clip_inputs(explainer.inputs, InputSources(), video_id, rows.tolist())
    return (0, rows, cubes, None, extra)
