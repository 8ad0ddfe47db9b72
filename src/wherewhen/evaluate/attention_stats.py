"""How a model's attention sits on the ground truth, as sums over clips (a training run logs them every epoch).

With a_{t,i} = temporal_t * spatial_{t,i} / sum_j spatial_{t,j} the attention over the T x K x K cells of a clip
(a mask in [0, 1] is made a distribution per frame first), per clip:

    entropy      = -sum_{t,i} a_{t,i} log a_{t,i}            (nats; log(T K^2) when uniform)
    box_mass     = sum_{t, i in box} a_{t,i}                 (clips with a box: the share on the actor's cells)
    segment_mass = sum_{t in segment} temporal_t             (clips with a segment: the share on its rows)
    pointing     = per row with a box, whether the map's maximal cell is in the box

``box`` cells are those whose centre lies in the row's box (``truth.box_cells``).
"""

from __future__ import annotations

import torch
from torch import Tensor

NAMES = ("entropy", "box_mass", "segment_mass", "pointing")


def attention_sums(spatial: Tensor, temporal: Tensor, box_cells: Tensor, segment: Tensor) -> Tensor:
    """(8,) float64 sums: entropy, clips; box mass, clips with a box; segment mass, clips with a segment;
    pointing hits, rows with a box. ``spatial`` (B, T, K, K), ``temporal`` (B, T), ``box_cells`` (B, T, K, K) bool,
    ``segment`` (B, T) bool."""
    spatial, temporal = spatial.double(), temporal.double()
    per_frame = spatial / spatial.sum(dim=(2, 3), keepdim=True).clamp_min(1e-30)
    joint = temporal[:, :, None, None] * per_frame
    entropy = -(joint * joint.clamp_min(1e-30).log()).sum(dim=(1, 2, 3))
    box = box_cells.to(joint.dtype)
    with_box = box.flatten(1).any(dim=1)
    box_mass = (joint * box).sum(dim=(1, 2, 3))
    with_segment = segment.any(dim=1)
    segment_mass = (temporal * segment.to(temporal.dtype)).sum(dim=1)
    rows_with_box = box.flatten(2).any(dim=2)
    peak_in_box = box.flatten(2).gather(2, per_frame.flatten(2).argmax(dim=2, keepdim=True)).squeeze(2) > 0
    return torch.stack(
        [
            entropy.sum(),
            torch.tensor(float(len(entropy)), dtype=joint.dtype, device=joint.device),
            box_mass[with_box].sum(),
            with_box.sum().to(joint.dtype),
            segment_mass[with_segment].sum(),
            with_segment.sum().to(joint.dtype),
            (peak_in_box & rows_with_box).sum().to(joint.dtype),
            rows_with_box.sum().to(joint.dtype),
        ]
    )


def attention_means(sums: Tensor) -> dict[str, float]:
    """The four means from summed ``attention_sums``; a statistic without any clip to average is left out."""
    out = {}
    for i, name in enumerate(NAMES):
        total, count = float(sums[2 * i]), float(sums[2 * i + 1])
        if count > 0:
            out[name] = total / count
    return out
