"""Write an explanation folder: the annotated MP4, the contact sheet PNG, the JSON and the HTML report.

The MP4 is encoded in a thread (PyAV and x264 release the GIL) while two more draw the heatmaps (OpenCV and NumPy
release it too) and this one hands them over in order; the contact sheet, the JSON and the HTML are written while
the encoder finishes. The threads are kept for the process (``worker_threads``).

Everything is written into a temporary sibling folder that replaces the output folder only once every file is
complete, so a crash or Ctrl-C leaves the old folder (or none) and never a half-written one. An existing folder
that is not empty is replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from queue import Full, Queue
from typing import Any, TypeVar

import numpy as np

from wherewhen.atomic import atomic_write_text
from wherewhen.errors import ConfigError, VideoError
from wherewhen.explain.detections import detections_csv
from wherewhen.explain.explainer import Explainer, one_line_errors
from wherewhen.explain.explanation import Explanation
from wherewhen.explain.frames import Display, display_for, iter_display_frames
from wherewhen.explain.heatmap import HeatmapStyle, overlay_heatmap
from wherewhen.explain.overlay import compose, encode_mp4, overlay_rate
from wherewhen.explain.plots import contact_sheet, sheet_rows, thumbnail, write_png
from wherewhen.explain.report import write_html, write_json
from wherewhen.explain.sliding import Progress, SlidingPlan, explain_sliding
from wherewhen.explain.truth import GroundTruth, with_truth
from wherewhen.video.files import file_problem
from wherewhen.video.probe import probe

PREFETCH_FRAMES = 64  # frames at display size decoded with the backbone's (the rest follow a chunk at a time)
QUEUED_FRAMES = 32  # frames with their heatmap waiting for the encoder (at most 50 MB at 960 x 540)
DRAWERS = 2  # threads drawing frames (OpenCV and NumPy release the GIL); the encoder has its own

T = TypeVar("T")

FILES = {
    "video": "explanation.mp4",
    "sheet": "contact_sheet.png",
    "json": "explanation.json",
    "segments": "segments.csv",
    "html": "report.html",
}


@dataclass(frozen=True)
class RenderOptions:
    style: HeatmapStyle = field(default_factory=HeatmapStyle)
    fps: float | None = None  # overlay frame rate; None = the sampled rows' own pace, within [1, 8]
    max_side: int = 960  # larger frames are drawn scaled down
    sheet_frames: int = 16  # frames on the contact sheet (spread over long videos)
    thumb_width: int = 256

    def __post_init__(self) -> None:
        if self.fps is not None and not 0.1 <= self.fps <= 120:
            raise ConfigError(f"--fps must lie in [0.1, 120], got {self.fps}")
        if self.max_side < 32:
            raise ConfigError(f"max_side must be at least 32 pixels, got {self.max_side}")
        if self.sheet_frames < 1:
            raise ConfigError(f"sheet_frames must be at least 1, got {self.sheet_frames}")


def check_output_dir(out: str | Path, force: bool = False) -> Path:
    """Refuse (one-line ConfigError) an output path that is a file, or a non-empty folder without ``force``."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out}: output folder exists and is not empty; pass --force to replace it")
    return out


@contextmanager
def staged_dir(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``out``; when the block succeeds it replaces ``out`` as a whole.

    The old folder is renamed aside before the new one is renamed in and deleted only after, so at every moment
    ``out`` is the old folder, the new one, or (between two renames) absent; never a mixture.
    """
    out = check_output_dir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old: Path | None = None
    try:
        yield tmp
        mask = _umask()
        for path in tmp.iterdir():  # mkstemp / mkdtemp make private files; these are meant to be shared
            path.chmod(0o666 & ~mask)
        tmp.chmod(0o777 & ~mask)
        check_output_dir(out, force)  # something may have appeared there meanwhile
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_explanation(
    explanation: Explanation,
    out: str | Path,
    *,
    force: bool = False,
    options: RenderOptions | None = None,
    decoded: Mapping[int, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Render ``explanation`` into ``out`` (it reads the frames from the video file it explains, except those
    already in ``decoded``: {frame index: frame at the display size}); return {kind: path}."""
    options = options or RenderOptions()
    out = check_output_dir(out, force)
    display = display_for(explanation.video.width, explanation.video.height, options.max_side)
    with staged_dir(out, force) as tmp:
        render(explanation, tmp, iter_display_frames(explanation, display, decoded), display, options)
    return {kind: out / name for kind, name in FILES.items()}


def render(
    explanation: Explanation,
    folder: Path,
    frames: Iterable[np.ndarray],
    display: Display,
    options: RenderOptions,
) -> None:
    """The four files of ``FILES`` in ``folder``; ``frames`` yields every row's frame at ``display`` size.

    The drawing threads put the heatmap on each frame (and make its thumbnail when it is on the contact sheet), in
    order; the encoder's thread adds the annotations and the timeline and encodes. The heatmaps run ahead of the
    encoder, so the contact sheet (a PNG of about 20 ms) is written while the MP4 is still being encoded.
    """
    wanted = set(sheet_rows(explanation, options.sheet_frames))
    crop = display.crop(explanation.crop)

    def heat(row: int, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        heated = overlay_heatmap(image, explanation.frames[row].attention, crop, options.style)
        return heated, thumbnail(heated, row, explanation, display, options.thumb_width) if row in wanted else None

    thumbs: dict[int, np.ndarray] = {}
    queue: Queue[tuple[int, np.ndarray] | None] = Queue(maxsize=QUEUED_FRAMES)
    encoding, drawing = worker_threads()
    composed = (
        compose(heated, row, explanation, display) for row, heated in drain(queue)
    )  # runs in the encoder's thread
    encoder = encoding.submit(encode_mp4, folder / FILES["video"], composed, overlay_rate(explanation, options.fps))
    try:
        try:
            for row, (heated, thumb) in enumerate(in_order(drawing, heat, enumerate(frames), 2 * DRAWERS)):
                if thumb is not None:
                    thumbs[row] = thumb
                hand_over(queue, (row, heated), encoder)
        finally:
            hand_over(queue, None, encoder, check=False)  # the end of the frames, also after an error here
        write_png(contact_sheet(explanation, thumbs), folder / FILES["sheet"])
        write_json(explanation, folder / FILES["json"])
        atomic_write_text(folder / FILES["segments"], detections_csv(explanation))
        linked = ("video", "sheet", "json")
        write_html(explanation, folder / FILES["html"], {k: v for k, v in FILES.items() if k in linked})
    finally:
        wait([encoder])  # its temporary file is gone before the caller removes the folder
    encoder.result()


@cache
def worker_threads() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The encoder's thread and the drawing threads, kept for the whole process: a thread's first OpenCV text call
    sets up its font, >10 % of "explain stage: drawing" (benchmarks/RESULTS.md) if every explanation paid it."""
    return (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="wherewhen-encode"),
        ThreadPoolExecutor(max_workers=DRAWERS, thread_name_prefix="wherewhen-draw"),
    )


def in_order(pool: Executor, fn: Callable[..., T], items: Iterable[tuple[Any, ...]], ahead: int) -> Iterator[T]:
    """``fn(*item)`` of each item, computed in ``pool`` with at most ``ahead`` under way, yielded in order."""
    pending: deque[Future[T]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, *item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # the caller stopped early (an error): work not yet started is dropped
        for future in pending:
            future.cancel()


def drain(queue: Queue[T | None]) -> Iterator[T]:
    """The items put on ``queue`` up to the first None."""
    while (item := queue.get()) is not None:
        yield item


def hand_over(queue: Queue[T | None], item: T | None, consumer: Future[Any], check: bool = True) -> None:
    """Put ``item`` on ``queue``, waiting while it is full, unless ``consumer`` has stopped (then its error is
    raised, with ``check``)."""
    while True:
        try:
            queue.put(item, timeout=0.05)
            return
        except Full:
            if consumer.done():
                if check:
                    consumer.result()
                return


def explain_to_folder(
    explainer: Explainer,
    video: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    options: RenderOptions | None = None,
    truth: GroundTruth | None = None,
    chosen: Sequence[int] | None = None,
    sliding: SlidingPlan | None = None,
    progress: Progress | None = None,
) -> tuple[Explanation, dict[str, Path]]:
    """``explainer.explain(video)`` written to ``out`` (what the ``explain`` command does), with the video's ground
    truth when ``truth`` holds it (``truth.find_truth``) and ``chosen`` rows for a model that takes a frame
    selection. The backbone runs while the video is still decoding, and the first frames at display size are
    converted from the same decoded pictures (``Explainer.cubes``), so drawing them decodes nothing
    again. With ``sliding``, the video is explained as sliding clips, streamed (``explain.sliding``; ``progress``
    hears of the rows done)."""
    options = options or RenderOptions()
    out = check_output_dir(out, force)  # before any slow work
    path = Path(video).expanduser()
    problem = file_problem(path)  # before resolve(), which raises on a symbolic link loop
    if problem is not None:
        raise VideoError(path, problem)
    path = path.resolve()
    with one_line_errors(path):
        info = probe(path)
    if sliding is not None:
        explanation = with_truth(explain_sliding(explainer, path, sliding, info=info, progress=progress), truth)
        return explanation, write_explanation(explanation, out, force=force, options=options)
    display = display_for(*info.frame_size, options.max_side)
    record, rgb, flow, frames = explainer.cubes(
        path, info=info, display_side=display.shorter_side, display_frames=PREFETCH_FRAMES
    )
    explanation = with_truth(explainer.explain_cubes(record, rgb, flow, chosen), truth)
    return explanation, write_explanation(explanation, out, force=force, options=options, decoded=frames)
