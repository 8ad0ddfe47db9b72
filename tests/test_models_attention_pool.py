"""attention_pool (the default model) against its docstring equations written out cell by cell, and its uniform
start: average pooling at step 0."""

from __future__ import annotations

import torch

from model_cells import B, C, D, K, T, cells, cubes
from wherewhen.models import build_model


def built(**kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("attention_pool", num_classes=C, in_channels=D, grid=K, dropout=0.0, **kwargs).eval()


def test_gated_attention_equations() -> None:
    model = built(reduce_dim=4, attention_size=5, uniform_start=False)
    x = cubes()
    out = model(x)
    conv = model.reduce.proj[0]
    for b in range(B):
        h = [[torch.relu(conv.weight.flatten(1) @ v + conv.bias) for v in frame] for frame in cells(x[b])]
        s = [
            [model.att_w.weight[0] @ (torch.tanh(model.att_v(hi)) * torch.sigmoid(model.att_u(hi))) for hi in frame]
            for frame in h
        ]
        total = sum(torch.exp(si) for frame in s for si in frame)
        a = [[torch.exp(si) / total for si in frame] for frame in s]
        z = sum(ai * v for fa, fx in zip(a, cells(x[b]), strict=True) for ai, v in zip(fa, fx, strict=True))
        torch.testing.assert_close(out.logits[b], model.classifier(z))
        temporal = torch.stack([sum(frame) for frame in a])
        torch.testing.assert_close(out.temporal[b], temporal)
        spatial = torch.stack([torch.stack(frame) for frame in a]) / temporal.unsqueeze(1)
        torch.testing.assert_close(out.spatial[b].flatten(1), spatial)
        frame_features = [
            sum(ai * v for ai, v in zip(fa, fx, strict=True)) for fa, fx in zip(a, cells(x[b]), strict=True)
        ]
        for t in range(T):
            torch.testing.assert_close(out.frame_logits[b, t], model.classifier(frame_features[t] / temporal[t]))


def test_uniform_start_is_average_pooling() -> None:
    model = built(uniform_start=True)
    x = cubes(1)
    out = model(x)
    torch.testing.assert_close(out.spatial, torch.full((B, T, K, K), 1 / K**2))
    torch.testing.assert_close(out.temporal, torch.full((B, T), 1 / T))
    torch.testing.assert_close(out.logits, model.classifier(x.mean(dim=(1, 3, 4))))


def test_uniform_start_still_learns_where_to_look() -> None:
    """The zero scorer output gets a gradient at once, and training moves the attention to the cell that carries the
    label."""
    model = built(uniform_start=True)
    model.train()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(B * 4, T, D, K, K, generator=g) * 0.1
    labels = torch.arange(B * 4) % C
    x[torch.arange(B * 4), 1, labels, 0, 1] = 3.0  # the label shows in one cell of one frame, as channel `label`
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(model(x).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = model.eval()(x)
    assert (out.logits.argmax(1) == labels).all()
    assert (out.temporal.argmax(1) == 1).all()
    assert (out.spatial[:, 1].flatten(1).argmax(1) == 1).all()
