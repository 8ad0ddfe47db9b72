"""The ground truth of an explained video, when it has one, and how well the model's attention matches it.

Where it is looked for, in order (the first that holds the video wins):

1. the feature store the run was trained on (``RUN/run.json``'s "store"): the record whose video is the explained
   file gives its segments and the boxes of its rows;
2. an embedded benchmark folder above the video (the nearest ``benchmark.json`` walking up from it): the record of
   the video gives its segments and its per-frame box tracks, scaled to the video's frame size.

``--truth FOLDER`` names the store or benchmark folder instead; ``--no-truth`` skips the lookup. Videos are matched
by their resolved paths (symbolic links followed). Nothing here imports ``wherewhen.train``: run.json is read as
plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from wherewhen.datasets.embedded import SETTINGS_FILE as BENCHMARK_SETTINGS
from wherewhen.datasets.registry import read_dataset
from wherewhen.errors import ConfigError, WherewhenError
from wherewhen.evaluate.boxes import Box, attention_peaks, point_in_box
from wherewhen.evaluate.spatial import SpatialConfig
from wherewhen.explain.explanation import Explanation, TruthSummary
from wherewhen.features.store import FeatureRecord, FeatureStore
from wherewhen.video.files import file_problem
from wherewhen.video.records import BoxTrack

Kind = Literal["store", "benchmark"]
R = TypeVar("R")


@dataclass(frozen=True)
class GroundTruth:
    """The annotation of one video.

    source:   the feature store or benchmark folder it was read from.
    segments: (start_s, end_s) of each action segment, half-open.
    tracks:   per-frame boxes, each track in the pixels of its own ``frame_size``.
    """

    source: Path
    segments: tuple[tuple[float, float], ...]
    tracks: tuple[BoxTrack, ...]

    def boxes(self, indices: Sequence[int], width: int, height: int) -> list[Box | None]:
        """The box of each frame in pixels of a ``width`` x ``height`` frame (the first track that holds the
        frame, as extraction takes it), or None."""
        tracks = [t.scaled(width, height) for t in self.tracks]
        out: list[Box | None] = []
        for index in indices:
            box = next((t.boxes[index] for t in tracks if index in t.boxes), None)
            out.append(None if box is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3])))
        return out


def find_truth(
    video: str | Path,
    model: str | Path | None = None,
    folder: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> GroundTruth | None:
    """The ground truth of ``video``: from ``folder`` (a store or benchmark folder) when given, else from the store
    of the run ``model`` belongs to, else from a benchmark folder above the video; None when none holds it.

    A ``folder`` that is neither kind, or that cannot be read, is a one-line error; a store or benchmark found on
    the way that cannot be read is skipped, with a one-line note to ``warn``."""
    target = resolved(Path(video).expanduser())
    if folder is not None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"{folder}: no such folder (--truth names a feature store or a benchmark folder)")
        kind = folder_kind(folder)
        if kind is None:
            raise ConfigError(
                f"{folder}: --truth needs a feature store (store.json) or an embedded benchmark folder "
                f"({BENCHMARK_SETTINGS}); found neither"
            )
        return None if target is None else read_truth(kind, folder, target)
    if target is None:
        return None
    for kind, root in places(target, None if model is None else Path(model).expanduser()):
        try:
            found = read_truth(kind, root, target)
        except WherewhenError as exc:
            if warn is not None:
                warn(f"note: no ground truth taken from {root}: {exc}")
            continue
        if found is not None:
            return found
    return None


def resolved(path: Path) -> Path | None:
    """``path`` with every symbolic link followed; None when it does not lead to a file."""
    if file_problem(path) is not None:
        return None
    return path.resolve()


def folder_kind(folder: Path) -> Kind | None:
    if (folder / "store.json").is_file():
        return "store"
    if (folder / BENCHMARK_SETTINGS).is_file():
        return "benchmark"
    return None


def places(video: Path, model: Path | None) -> Iterable[tuple[Kind, Path]]:
    """Where to look, in order: the run's feature store, then the nearest benchmark folder above the video."""
    store = None if model is None else run_store(model)
    if store is not None and folder_kind(store) == "store":
        yield "store", store
    bench = next((p for p in video.parents if (p / BENCHMARK_SETTINGS).is_file()), None)
    if bench is not None:
        yield "benchmark", bench


def run_store(model: Path) -> Path | None:
    """The feature store of the run that ``model`` (a run folder or its model/ folder) comes from: run.json's
    "store" (or "data", as evaluation reads it); None outside a run."""
    for folder in (model, model.parent):
        path = folder / "run.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return None  # loading the model reports a broken run folder
            store = (data.get("store") or data.get("data")) if isinstance(data, dict) else None
            return Path(store).expanduser() if isinstance(store, str) and store else None
    return None


def read_truth(kind: Kind, root: Path, video: Path) -> GroundTruth | None:
    """The ground truth of the (resolved) ``video`` in the store or benchmark folder ``root``; None when ``root``
    does not hold the video, or holds it without a box or a segment."""
    if kind == "store":
        record = matching(store_records(root), lambda r: Path(r.video), video)
        return None if record is None else truth_of_record(root, record)
    entry = matching(read_dataset("embedded", root).records, lambda r: Path(r.path), video)
    if entry is None:
        return None
    segments = tuple((float(s.start), float(s.end)) for s in entry.segments)
    return truth_or_none(GroundTruth(root, segments, tuple(entry.tracks)))


def store_records(root: Path) -> list[FeatureRecord]:
    store = FeatureStore(root)
    try:
        return store.records()
    except OSError:  # a stale manifest in a folder this user cannot write: the files' headers hold the records
        return [store.read_record(p) for p in store.finished_files()]


def matching(records: Sequence[R], path_of: Callable[[R], Path], video: Path) -> R | None:
    """The first record whose path resolves to ``video``; records of the same file name are tried first, so a
    large store resolves few paths."""
    named = [r for r in records if path_of(r).name == video.name]
    for group in (named, records):
        for record in group:
            if resolved(path_of(record)) == video:
                return record
    return None


def truth_of_record(root: Path, record: FeatureRecord) -> GroundTruth | None:
    boxes = {i: b for i, b in zip(record.frame_indices, record.boxes, strict=False) if b is not None}
    width, height = record.frame_size
    tracks = (BoxTrack(frame_size=(int(width), int(height)), boxes=boxes),) if boxes else ()
    segments = tuple((float(start), float(end)) for start, end, _ in record.segments)
    return truth_or_none(GroundTruth(root, segments, tracks))


def truth_or_none(truth: GroundTruth) -> GroundTruth | None:
    return truth if truth.segments or any(t.boxes for t in truth.tracks) else None


def with_truth(explanation: Explanation, truth: GroundTruth | None) -> Explanation:
    """``explanation`` with the ground truth of its frames, its segments and the summary of how the attention
    matches them; unchanged when ``truth`` is None."""
    if truth is None:
        return explanation
    video = explanation.video
    boxes = truth.boxes([f.index for f in explanation.frames], video.width, video.height)
    frames = [replace(f, truth_box=box) for f, box in zip(explanation.frames, boxes, strict=True)]
    done = replace(explanation, frames=frames, truth_segments=list(truth.segments))
    done.truth = truth_summary(done, str(truth.source))
    return done


def truth_summary(explanation: Explanation, source: str, config: SpatialConfig | None = None) -> TruthSummary:
    """Frames with a ground-truth box and those whose attention peak lies in it (the pointing game of
    ``evaluate.spatial`` with ``config``, by default evaluation's), and the share of the temporal weight inside the
    ground-truth segments, of the explained frames."""
    config = config or SpatialConfig()
    rows = [k for k, f in enumerate(explanation.frames) if f.truth_box is not None]
    inside = 0
    if rows:
        peaks = attention_peaks(explanation.maps[rows], explanation.crop, config.peak)
        for k, (x, y) in zip(rows, peaks, strict=True):
            box = explanation.frames[k].truth_box
            assert box is not None
            inside += point_in_box((float(x), float(y)), box, config.pointing_tolerance)
    share = None
    if explanation.truth_segments:
        times, weights = explanation.times, explanation.weights
        within = np.zeros(len(times), dtype=bool)
        for start, end in explanation.truth_segments:
            within |= (times >= start) & (times < end)
        total = float(weights.sum())
        share = float(weights[within].sum() / total) if total > 0 else 0.0
    return TruthSummary(source, len(rows), inside, share, config.peak)
