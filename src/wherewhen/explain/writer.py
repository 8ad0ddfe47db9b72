"""Write an explanation folder: the annotated MP4, the contact sheet PNG, the JSON and the HTML report.

Everything is written into a temporary sibling folder that replaces the output folder only once every file is
complete, so a crash or Ctrl-C leaves the old folder (or none) and never a half-written one. An existing folder
that is not empty is replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wherewhen.errors import ConfigError
from wherewhen.explain.explainer import Explainer
from wherewhen.explain.explanation import Explanation
from wherewhen.explain.frames import display_for, iter_display_frames, read_display_frames
from wherewhen.explain.heatmap import HeatmapStyle, overlay_heatmap
from wherewhen.explain.overlay import write_overlay_video
from wherewhen.explain.plots import sheet_rows, write_contact_sheet
from wherewhen.explain.report import write_html, write_json

PREFETCH_FRAMES = 64  # frames at display size decoded while the backbone runs (the rest follow a chunk at a time)

FILES = {
    "video": "explanation.mp4",
    "sheet": "contact_sheet.png",
    "json": "explanation.json",
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
    wanted = set(sheet_rows(explanation, options.sheet_frames))
    thumbnails: dict[int, np.ndarray] = {}
    crop = display.crop(explanation.crop)

    def heated() -> Iterator[np.ndarray]:
        """Every row's frame with its heatmap; the sheet's rows are kept for the thumbnails."""
        for row, image in enumerate(iter_display_frames(explanation, display, decoded)):
            frame = overlay_heatmap(image, explanation.frames[row].attention, crop, options.style)
            if row in wanted:
                thumbnails[row] = frame
            yield frame

    with staged_dir(out, force) as tmp:
        write_overlay_video(explanation, tmp / FILES["video"], heated(), display, options.fps)
        write_contact_sheet(explanation, tmp / FILES["sheet"], thumbnails, display, options.thumb_width)
        write_json(explanation, tmp / FILES["json"])
        write_html(explanation, tmp / FILES["html"], {k: v for k, v in FILES.items() if k != "html"})
    return {kind: out / name for kind, name in FILES.items()}


def explain_to_folder(
    explainer: Explainer,
    video: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    options: RenderOptions | None = None,
) -> tuple[Explanation, dict[str, Path]]:
    """``explainer.explain(video)`` written to ``out``, with the first frames at display size decoded in a thread
    while the backbone runs (what the ``explain`` command does)."""
    options = options or RenderOptions()
    out = check_output_dir(out, force)  # before any slow work
    decoded = explainer.decode(video)
    assert decoded.record is not None
    record = decoded.record
    display = display_for(*record.frame_size, options.max_side)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(read_display_frames, record.video, record.frame_indices[:PREFETCH_FRAMES], display)
        explanation = explainer.explain_decoded(decoded)
        frames = first.result()
    return explanation, write_explanation(explanation, out, force=force, options=options, decoded=frames)
