"""The weakly supervised localization heads (stpn, wtalc, basnet, cola) against their docstring equations written
out cell by cell, and their pieces (top-k pooling, co-activity similarity, hard-cell mining, InfoNCE) on hand-made
cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model_cells import B, C, D, K, T, cells, cubes
from wherewhen.models import build_model
from wherewhen.models.cola import boundary_cells, info_nce
from wherewhen.models.wtalc import co_activity_loss


def built(name: str, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, num_classes=C, in_channels=D, grid=K, dropout=0.0, **kwargs).eval()


def test_stpn_equations() -> None:
    model = built("stpn", reduce_dim=None, beta=0.5)
    x = cubes()
    out = model(x)
    w1, b1 = model.scorer[0].weight, model.scorer[0].bias
    w2, b2 = model.scorer[2].weight[0], model.scorer[2].bias[0]
    for b in range(B):
        gates = [[torch.sigmoid(w2 @ torch.relu(w1 @ v + b1) + b2) for v in frame] for frame in cells(x[b])]
        total = sum(g for frame in gates for g in frame)
        z = sum(g * v for frame, fx in zip(gates, cells(x[b]), strict=True) for g, v in zip(frame, fx, strict=True))
        torch.testing.assert_close(out.logits[b], model.classifier(z / total))
        torch.testing.assert_close(out.spatial[b].flatten(1), torch.stack([torch.stack(f) for f in gates]))
        torch.testing.assert_close(out.temporal[b], torch.stack([sum(f) for f in gates]) / total)
    mean_gate = out.spatial.mean()
    torch.testing.assert_close(out.regularizers["sparsity"], 0.5 * mean_gate)


def test_wtalc_top_k_pooling_and_outputs() -> None:
    model = built("wtalc", embed_dim=4, topk_divisor=4)
    x = cubes(1)
    out = model(x)
    conv = model.embed.proj[0]
    n = T * K * K
    k = math.ceil(n / 4)  # 3 of 12 cells
    for b in range(B):
        e = [torch.relu(conv.weight.flatten(1) @ v + conv.bias) for frame in cells(x[b]) for v in frame]
        cas = torch.stack([model.activation(v) for v in e])  # (N, C)
        expected = torch.stack([cas[:, c].sort(descending=True).values[:k].mean() for c in range(C)])
        torch.testing.assert_close(out.logits[b], expected)
        top = int(expected.argmax())
        a = cas[:, top].softmax(0).view(T, K * K)
        torch.testing.assert_close(out.temporal[b], a.sum(1))
        torch.testing.assert_close(out.spatial[b].flatten(1), a / a.sum(1, keepdim=True))


def test_co_activity_loss_by_hand() -> None:
    # two videos of class 0 (video 2 shows class 1 only), N = 2 cells, E = 2.
    cas = torch.tensor([[[2.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 0.0]]])
    emb = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 0.0]]])
    present = torch.tensor([[True, False], [True, False], [False, True]])

    def d(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return 1 - F.cosine_similarity(u, v, dim=0)

    a = cas[:, :, 0].softmax(dim=1)  # class 0 attention of each video over its 2 cells
    high = [a[m] @ emb[m] for m in range(2)]
    low = [(1 - a[m]) @ emb[m] / (2 - 1) for m in range(2)]
    hinge = [
        F.relu(d(high[m], high[n]) - d(high[m], low[n]) + 0.5) + F.relu(d(high[m], high[n]) - d(low[m], high[n]) + 0.5)
        for m, n in ((0, 1), (1, 0))
    ]
    pair = [0.5 * h for h in hinge]
    torch.testing.assert_close(co_activity_loss(cas, emb, present, 0.5), torch.stack(pair).mean())
    alone = torch.tensor([[True, False], [False, True], [False, False]])
    assert co_activity_loss(cas, emb, alone, 0.5) == 0  # no two videos share a class


def test_wtalc_loss_terms_mix_ce_and_casl() -> None:
    model = built("wtalc", embed_dim=4, lambda_casl=0.25)
    out = model(cubes(2))
    targets = torch.tensor([1, 1])
    terms = model.loss_terms(out, targets)
    torch.testing.assert_close(terms["ce"], 0.75 * F.cross_entropy(out.logits, targets))
    casl = co_activity_loss(out.extras["cas"], out.extras["embedding"], F.one_hot(targets, C) > 0, 0.5)
    torch.testing.assert_close(terms["casl"], 0.25 * casl)


def test_basnet_branches_and_labels() -> None:
    model = built("basnet", embed_dim=4, filter_size=3, topk_divisor=4, alpha=0.1)
    x = cubes(3)
    out = model(x)
    conv = model.embed.proj[0]
    k = math.ceil(T * K * K / 4)
    for b in range(B):
        e = torch.stack([torch.relu(conv.weight.flatten(1) @ v + conv.bias) for f in cells(x[b]) for v in f])
        w = torch.sigmoid(model.filter(e))  # (N, 1)
        base = model.activation(e).sort(0, descending=True).values[:k].mean(0)
        supp = model.activation(w * e).sort(0, descending=True).values[:k].mean(0)
        torch.testing.assert_close(out.extras["base_scores"][b], base)
        torch.testing.assert_close(out.logits[b], supp[:C])
        torch.testing.assert_close(out.spatial[b].flatten(), w[:, 0])
    targets = torch.tensor([0, 2])
    terms = model.loss_terms(out, targets)
    one_hot = F.one_hot(targets, C).float()
    base_target = torch.cat([one_hot, torch.ones(B, 1)], 1) / 2  # [y, background = 1], normalized
    supp_target = torch.cat([one_hot, torch.zeros(B, 1)], 1)  # [y, background = 0]
    torch.testing.assert_close(terms["ce_base"], F.cross_entropy(out.extras["base_scores"], base_target))
    torch.testing.assert_close(terms["ce"], F.cross_entropy(out.extras["suppressed_scores"], supp_target))
    torch.testing.assert_close(terms["filter_l1"], 0.1 * out.spatial.mean())


def test_cola_boundary_cells_by_hand() -> None:
    kept = torch.zeros(1, 5, 1, 1, dtype=torch.bool)  # one cell over five frames: action in frames 1-3
    kept[0, 1:4] = True
    hard_action, hard_background = boundary_cells(kept, inner=1, outer=1)
    # erosion by one frame keeps frame 2 only: frames 1 and 3 are hard actions; dilation adds frames 0 and 4
    assert hard_action.flatten().tolist() == [False, True, False, True, False]
    assert hard_background.flatten().tolist() == [True, False, False, False, True]


def test_info_nce_by_hand() -> None:
    q, positive = torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0])  # cosine 1 with the positive
    negatives = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # cosines 0 and -1
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(0 / tau) + math.exp(-1 / tau)))
    assert info_nce(q, positive, negatives, tau).item() == pytest.approx(expected)


def test_cola_actionness_and_snico_only_in_training() -> None:
    model = built("cola", embed_dim=4)
    x = cubes(4)
    out = model(x)
    cas = out.extras.get("cas")
    assert cas is None  # cola keeps no extras; recompute from the layers
    conv = model.embed.proj[0]
    for b in range(B):
        e = torch.stack([torch.relu(conv.weight.flatten(1) @ v + conv.bias) for f in cells(x[b]) for v in f])
        act = torch.sigmoid(model.activation(e).sum(1))
        torch.testing.assert_close(out.spatial[b].flatten(), act)
    assert out.regularizers == {}
    model.train()
    assert set(model(x).regularizers) == {"snico"}
