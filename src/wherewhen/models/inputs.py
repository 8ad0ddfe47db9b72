"""Inputs a model takes beyond its cubes: the model declares them, one helper builds them wherever the model runs.

A model names the keyword arguments its ``forward`` needs besides ``cubes`` and ``flow`` in
``VideoModel.extra_inputs`` (``lrcn_st`` with ``temporal="given"``: ``frame_mask``). ``clip_inputs`` builds them
for one clip from ``InputSources`` (what they are made of: a frame selection), the same way for training
(``train.data.ClipDataset``), evaluation (``evaluate.predict``) and explanation (``explain.Explainer``);
``stack_inputs`` makes a batch of them and ``train.engine.to_device`` hands a batch's declared inputs to the model.

``sources_of_run`` reads what a trained run built its inputs from (``data.frame_selection`` of its config.yaml).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from torch import Tensor, nn

from wherewhen.errors import CheckpointError, ConfigError
from wherewhen.features.frame_selection import load_frame_selection

FRAME_MASK = "frame_mask"


@dataclass(frozen=True)
class InputSources:
    """What extra inputs are built from.

    selection: {video id: chosen cube rows} (a frame selection file, ``features.frame_selection``), or None.
    chosen:    the chosen cube rows of the one video being explained; wins over ``selection`` for that video.
    """

    selection: Mapping[str, Sequence[int]] | None = None
    chosen: Sequence[int] | None = None

    def rows_for(self, video_id: str) -> Sequence[int] | None:
        if self.chosen is not None:
            return self.chosen
        return None if self.selection is None else self.selection.get(video_id)


def frame_mask(chosen: Sequence[int] | None, picked: Sequence[int]) -> Tensor:
    """(T,) 1.0 where the picked cube row was chosen; all ones when nothing was chosen for the video or none of the
    clip's rows was (the clip then attends to every row, as a clip without a selection does)."""
    if chosen is None:
        return torch.ones(len(picked))
    wanted = set(chosen)
    mask = torch.tensor([1.0 if row in wanted else 0.0 for row in picked])
    return mask if mask.any() else torch.ones(len(picked))


def _frame_mask(sources: InputSources, video_id: str, rows: Sequence[int]) -> Tensor:
    return frame_mask(sources.rows_for(video_id), rows)


Builder = Callable[[InputSources, str, Sequence[int]], Tensor]
BUILDERS: dict[str, Builder] = {FRAME_MASK: _frame_mask}


def declared_inputs(model: nn.Module) -> tuple[str, ...]:
    """The extra inputs ``model`` declares (a wrapper such as DDP is looked through)."""
    model = getattr(model, "module", model)
    names = tuple(getattr(model, "extra_inputs", ()))
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ConfigError(f"model input {unknown[0]!r} has no builder in wherewhen.models.inputs.BUILDERS")
    return names


def clip_inputs(names: Sequence[str], sources: InputSources, video_id: str, rows: Sequence[int]) -> dict[str, Tensor]:
    """The inputs ``names`` of one clip: the cube rows ``rows`` of the video ``video_id``, each (T, ...)."""
    return {name: BUILDERS[name](sources, video_id, [int(r) for r in rows]) for name in names}


def stack_inputs(items: Sequence[Mapping[str, Tensor]], device: torch.device | None = None) -> dict[str, Tensor]:
    """A batch (B, T, ...) of per-clip inputs, on ``device`` when given."""
    if not items:
        return {}
    return {name: torch.stack([item[name] for item in items]).to(device or "cpu") for name in items[0]}


def sources_of_run(run_dir: str | Path, names: Sequence[str]) -> InputSources:
    """What the run in ``run_dir`` built the inputs ``names`` from: its config.yaml's ``data.frame_selection``
    (relative to the working folder, as training read it, else to the run folder). Nothing to read when the model
    declares no input."""
    if FRAME_MASK not in names:
        return InputSources()
    path = selection_path(Path(run_dir))
    return InputSources(selection=load_frame_selection(path))


def selection_path(run_dir: Path) -> Path:
    config_path = run_dir / "config.yaml"
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CheckpointError(config_path, f"cannot read the run's configuration ({type(exc).__name__})") from None
    data = config.get("data") if isinstance(config, dict) else None
    named = data.get("frame_selection") if isinstance(data, dict) else None
    if not named:
        raise CheckpointError(config_path, "the model takes a frame selection but data.frame_selection is not set")
    path = Path(str(named)).expanduser()
    for candidate in (path, run_dir / path):
        if candidate.is_file():
            return candidate
    raise CheckpointError(config_path, f"data.frame_selection names {named}, which is not there")
