"""Augmentation of cached cubes, applied to each training batch on the training device (``augment.*`` settings).

In the order applied, each clip of the batch independently:

- ``crop``: keeps a random window of at least ``crop`` of its T rows and resamples it to T rows (nearest row);
  1 = off. A window may miss the action: keep it long.
- ``mirror``: with this probability the K x K grid is mirrored left-right (the cube of a mirrored frame is close
  to, not equal to, the mirrored cube).
- ``shift``: the grid moves by up to this many cells in each direction; cells that come in repeat the edge.
- ``mix``: with this probability ``mix_rows`` of its T rows (chosen at random) are replaced by rows of another
  clip of the batch, at the same positions; the target becomes the rows' shares of the two labels
  (``mix_same``: with this probability among the mixed clips the other clip is one of the same class, where the
  batch holds one, and the label is unchanged). A clip then shows two actions; models that look at the right
  place and time can still tell what it is, models that pool everything are told a mixture.
- ``cell_dropout``: each cell of each row is zeroed with this probability.
- ``noise``: Gaussian noise of ``noise`` times the batch's feature standard deviation is added.

Random draws come from torch's global generator, which checkpoints save and restore, so a resumed run draws the
same augmentations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class AugmentSection:
    crop: float = 1.0  # shortest kept share of the rows (temporal crop); 1 = off
    mirror: float = 0.0  # probability of mirroring the grid left-right
    shift: int = 0  # largest grid shift in cells, each direction
    mix: float = 0.0  # probability that a clip takes mix_rows of its rows from another clip of the batch
    mix_rows: float = 0.5  # share of the rows taken from the other clip
    mix_same: float = 0.0  # share of the mixed clips whose partner has the same class (label unchanged)
    cell_dropout: float = 0.0  # probability of zeroing one cell of one row
    noise: float = 0.0  # Gaussian noise, in units of the batch's feature standard deviation

    @property
    def active(self) -> bool:
        return (
            self.crop < 1.0
            or self.mirror > 0
            or self.shift > 0
            or self.mix > 0
            or self.cell_dropout > 0
            or self.noise > 0
        )


def augment_batch(
    inputs: dict[str, Tensor], targets: Tensor, num_classes: int, cfg: AugmentSection
) -> tuple[dict[str, Tensor], Tensor]:
    """Augmented copies of a batch's model inputs (``cubes``, optional ``flow`` and ``frame_mask``) and its targets,
    (B,) class indices in; (B, C) class probabilities out when clips were mixed, else indices."""
    if not cfg.active:
        return inputs, targets
    out = dict(inputs)
    spatial = [k for k in ("cubes", "flow") if k in out]
    if cfg.crop < 1.0:
        rows = crop_rows(out["cubes"].shape[0], out["cubes"].shape[1], cfg.crop, out["cubes"].device)
        for key in out:
            out[key] = torch.stack([v[r] for v, r in zip(out[key], rows, strict=True)])
    if cfg.mirror > 0:
        flip = torch.rand(out["cubes"].shape[0]) < cfg.mirror
        for key in spatial:
            out[key] = torch.where(flip.to(out[key].device)[:, None, None, None, None], out[key].flip(-1), out[key])
    if cfg.shift > 0:
        for key, moved in zip(spatial, shift_grids([out[k] for k in spatial], cfg.shift), strict=True):
            out[key] = moved
    if cfg.mix > 0:
        out, targets = mix_clips(out, targets, num_classes, cfg)
    if cfg.cell_dropout > 0:
        b, t, _, k, _ = out["cubes"].shape
        keep = (torch.rand(b, t, 1, k, k) >= cfg.cell_dropout).to(out["cubes"].device)
        for key in spatial:
            out[key] = out[key] * keep.to(out[key].dtype)
    if cfg.noise > 0:
        for key in spatial:
            x = out[key].float()
            out[key] = (x + cfg.noise * x.std() * torch.randn_like(x)).to(out[key].dtype)
    return out, targets


def crop_rows(batch: int, frames: int, shortest: float, device: torch.device) -> list[Tensor]:
    """Per clip, T row indices resampling a random window of at least ``shortest * T`` rows (nearest row)."""
    out = []
    for _ in range(batch):
        length = int(torch.randint(max(1, round(shortest * frames)), frames + 1, ()).item())
        start = int(torch.randint(0, frames - length + 1, ()).item())
        positions = start + (torch.arange(frames) + 0.5) * length / frames
        out.append(positions.long().clamp(start, start + length - 1).to(device))
    return out


def shift_grids(grids: list[Tensor], largest: int) -> list[Tensor]:
    """The same random shift of each clip's (T, D, K, K) grid in every tensor of ``grids``; edges repeat."""
    b, _, _, k, _ = grids[0].shape
    dy, dx = torch.randint(-largest, largest + 1, (2, b))
    index = torch.arange(k)
    out = []
    for grid in grids:
        rows = (index[None, :] - dy[:, None]).clamp(0, k - 1).to(grid.device)  # (B, K)
        cols = (index[None, :] - dx[:, None]).clamp(0, k - 1).to(grid.device)
        picked = torch.stack([g[..., r, :][..., c] for g, r, c in zip(grid, rows, cols, strict=True)])
        out.append(picked)
    return out


def mix_clips(
    inputs: dict[str, Tensor], targets: Tensor, num_classes: int, cfg: AugmentSection
) -> tuple[dict[str, Tensor], Tensor]:
    """Replace ``mix_rows`` of the rows of some clips with the same rows of a partner clip (see the module doc)."""
    b, t = inputs["cubes"].shape[:2]
    labels = F.one_hot(targets, num_classes).float()
    mixed = labels.clone()
    partner = torch.arange(b)
    share = torch.zeros(b)
    taken = torch.zeros(b, t, dtype=torch.bool)
    count = max(1, min(t - 1, round(cfg.mix_rows * t)))
    for i in range(b):
        if b < 2 or torch.rand(()) >= cfg.mix:
            continue
        same = (targets.cpu() == targets[i].cpu()).nonzero().flatten()
        same = same[same != i]
        if len(same) and torch.rand(()) < cfg.mix_same:
            partner[i] = same[torch.randint(len(same), ())]
        else:
            others = torch.cat([torch.arange(i), torch.arange(i + 1, b)])
            partner[i] = others[torch.randint(len(others), ())]
        taken[i, torch.randperm(t)[:count]] = True
        share[i] = count / t
    out = {}
    for key, value in inputs.items():
        mask = taken.to(value.device).view(b, t, *([1] * (value.dim() - 2)))
        out[key] = torch.where(mask, value[partner.to(value.device)], value)
    weight = share.to(labels.device)[:, None]
    mixed = (1 - weight) * labels + weight * labels[partner.to(labels.device)]
    return out, mixed
