"""Which cube rows of a stored video a clip reads.

A record's clips are lists of its cube rows (``FeatureRecord.clips``). A model reads T rows of a clip, picked
TSN-style: the clip's R rows are cut into T equal segments and one row is taken from each, at a random offset when
training with jitter, at the centre otherwise (R < T repeats rows). Training, evaluation and explanation all pick
rows here, so a model sees the same rows of a clip wherever it runs.
"""

from __future__ import annotations

import numpy as np

from wherewhen.features.store import FeatureRecord


def record_clips(record: FeatureRecord) -> list[list[int]]:
    """The record's clips (lists of cube rows); a record without clips is one clip of all its rows."""
    clips = [list(c) for c in record.clips if len(c) > 0]
    return clips or [list(range(len(record.frame_indices)))]


def one_row_per_segment(length: int, frames: int, offsets: np.ndarray | None = None) -> list[int]:
    """T = ``frames`` positions in [0, length), one per segment: segment i covers [i*R/T, (i+1)*R/T) of the R =
    ``length`` rows and ``offsets[i]`` (in [0, 1)) says where in it.

    ``offsets=None`` takes the segment centres, which is the uniform sampling used for validation and testing.
    """
    if length < 1:
        raise ValueError("a clip needs at least one row")
    u = np.full(frames, 0.5) if offsets is None else np.asarray(offsets, dtype=np.float64)
    pos = np.floor((np.arange(frames) + u) * length / frames).astype(np.int64)
    return np.clip(pos, 0, length - 1).tolist()
