"""Frame selection files: which cube rows of each video a person marked as relevant.

The file is JSON, ``{"video_id": [0-based cube rows], ...}``. Training and evaluation turn it into a per-clip
``frame_mask`` (1 on selected rows) for models with hard temporal attention from a given selection (``lrcn_st``
with ``temporal="given"``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from wherewhen.errors import ConfigError, DatasetError


def load_frame_selection(path: str | Path) -> dict[str, list[int]]:
    """Read a frame selection file: JSON object mapping video ids to lists of 0-based cube rows."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(path, "frame selection file not found") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DatasetError(path, 'expected a JSON object {"video_id": [frame rows], ...}')
    selection: dict[str, list[int]] = {}
    for video_id, rows in data.items():
        if not isinstance(rows, list) or not rows or not all(isinstance(r, int) and r >= 0 for r in rows):
            raise DatasetError(path, f"video {video_id!r}: expected a non-empty list of 0-based frame rows")
        selection[video_id] = sorted(set(rows))
    return selection


def selection_mask(selection: dict[str, list[int]], video_ids: Sequence[str], num_frames: int) -> Tensor:
    """(B, T) float mask with 1 on each video's selected rows; a video missing from the selection is an error."""
    mask = torch.zeros(len(video_ids), num_frames)
    for row, video_id in enumerate(video_ids):
        if video_id not in selection:
            raise ConfigError(f"frame selection has no entry for video {video_id!r}")
        rows = selection[video_id]
        if max(rows) >= num_frames:
            raise ConfigError(f"frame selection for {video_id!r} names row {max(rows)}, but cubes have {num_frames}")
        mask[row, rows] = 1.0
    return mask
