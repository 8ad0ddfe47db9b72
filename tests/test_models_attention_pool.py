"""attention_pool (the default model) against its docstring equations written out cell by cell, and its uniform
start: average pooling at step 0."""

from __future__ import annotations

import pytest
import torch

from model_cells import B, C, D, K, T, cells, cubes
from wherewhen.errors import ConfigError
from wherewhen.models import build_model
from wherewhen.models.attention_pool import with_neighbourhood
from wherewhen.models.registry import with_flow_decided


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


def test_two_streams_score_and_read_the_rgb_and_flow_features_side_by_side() -> None:
    """flow=True: every cell is [x^rgb ; x^flow] (2D features) for the scores and the read-out alike; the motion of
    the attended frames as a whole is added to the logits: m_t, the mean flow of each column band (here the K = 2
    columns, one band each), weighted by tau_t."""
    model = built(reduce_dim=4, attention_size=5, uniform_start=False, flow=True, motion_columns=K)
    assert model.uses_flow and model.reduce.proj[0].in_channels == 2 * D and model.classifier.in_features == 2 * D
    rgb, flow = cubes(0), cubes(1)
    out = model(rgb, flow)
    both = torch.cat([rgb, flow], dim=2)  # (B, T, 2D, K, K)
    conv = model.reduce.proj[0]
    for b in range(B):
        h = [[torch.relu(conv.weight.flatten(1) @ v + conv.bias) for v in frame] for frame in cells(both[b])]
        s = torch.stack(
            [
                torch.stack(
                    [
                        model.att_w.weight[0] @ (torch.tanh(model.att_v(hi)) * torch.sigmoid(model.att_u(hi)))
                        for hi in frame
                    ]
                )
                for frame in h
            ]
        )
        a = s.flatten().softmax(0).view_as(s)
        z = sum(a[t, i] * v for t, frame in enumerate(cells(both[b])) for i, v in enumerate(frame))
        tau = a.sum(1)
        m = [torch.cat([sum(frame[r * K + c] for r in range(K)) / K for c in range(K)]) for frame in cells(flow[b])]
        motion = model.motion_out.weight @ sum(tau[t] * m[t] for t in range(T))
        torch.testing.assert_close(out.logits[b], model.classifier(z) + motion)
        torch.testing.assert_close(out.temporal[b], tau)
        for t in range(T):
            x_hat = sum(a[t, i] * v for i, v in enumerate(cells(both[b])[t])) / tau[t]
            torch.testing.assert_close(out.frame_logits[b, t], model.classifier(x_hat) + model.motion_out.weight @ m[t])


def test_motion_context_only_with_flow_and_off_on_request() -> None:
    """motion_context adds W_m only where flow is read; motion_context=False is the two-stream read-out alone."""
    assert built(flow=False).motion_out is None  # RGB alone: the frame's mean would be the scene, not the motion
    assert built(flow=True).motion_out.in_features == 3 * D  # three column bands by default
    assert built(flow=True, motion_columns=1).motion_out.in_features == D
    plain = built(flow=True, motion_context=False)
    assert plain.motion_out is None
    rgb, flow = cubes(0), cubes(1)
    out = plain(rgb, flow)
    features = torch.cat([rgb, flow], dim=2).flatten(3).permute(0, 1, 3, 2)  # (B, T, K K, 2D)
    a = out.spatial.flatten(2) * out.temporal.unsqueeze(-1)
    torch.testing.assert_close(out.logits, plain.classifier(torch.einsum("btl,btld->bd", a, features)))


def test_column_bands_split_a_seven_column_grid_into_overlapping_thirds() -> None:
    """K = 7, S = 3: bands of columns 0-2, 2-4 and 4-6, each the mean over its cells, left to right; S = 1 is the
    frame's mean flow."""
    model = build_model("attention_pool", num_classes=C, in_channels=D, grid=7, flow=True)
    flow = torch.rand(B, T, D, 7, 7, generator=torch.Generator().manual_seed(3))
    rows = flow.permute(0, 1, 3, 4, 2)
    bands = [flow[..., :, 0:3].mean(dim=(3, 4)), flow[..., :, 2:5].mean(dim=(3, 4)), flow[..., :, 4:7].mean(dim=(3, 4))]
    torch.testing.assert_close(model.column_bands(rows), torch.cat(bands, dim=-1))
    whole = build_model("attention_pool", num_classes=C, in_channels=D, grid=7, flow=True, motion_columns=1)
    torch.testing.assert_close(whole.column_bands(rows), flow.mean(dim=(3, 4)))
    with pytest.raises(ConfigError, match="motion_columns must be at least 1"):
        build_model("attention_pool", num_classes=C, in_channels=D, grid=7, flow=True, motion_columns=0)


def test_without_flow_it_reads_rgb_only_and_refuses_no_flow() -> None:
    model = built(flow=None)
    assert not model.uses_flow and model.classifier.in_features == D
    torch.testing.assert_close(model(cubes(0)).logits, model(cubes(0), cubes(1)).logits)  # flow given, not read
    with pytest.raises(ConfigError, match="needs flow cubes"):
        built(flow=True)(cubes(0))


def test_flow_left_open_is_decided_by_the_features() -> None:
    assert with_flow_decided("attention_pool", {}, True) == {"flow": True}
    assert with_flow_decided("attention_pool", {"flow": None, "dropout": 0.1}, False) == {"flow": False, "dropout": 0.1}
    assert with_flow_decided("attention_pool", {"flow": False}, True) == {"flow": False}  # what a user set stays
    assert with_flow_decided("lstm_avg", {}, True) == {}  # a model without the keyword


def test_normalized_read_out_trains_on_a_lone_clip() -> None:
    """normalize=True: batch statistics in training, but a batch of one clip (the trainer's first check, a last
    batch) reads the running statistics, as evaluation does, instead of failing."""
    model = built(normalize=True).train()
    assert model(cubes(0)).logits.shape == (B, C)  # a batch: its statistics (and the running ones updated)
    lone = model(cubes(1)[:1]).logits
    torch.testing.assert_close(lone, model.eval()(cubes(1)[:1]).logits)


def test_linear_scorer_equations() -> None:
    """scorer="linear": s_{t,i} = w^T x_{t,i} on the unreduced cell features (the form the refinement fits)."""
    model = built(scorer="linear", uniform_start=False)
    assert model.att_v is None and model.att_u is None and model.att_w.in_features == D
    x = cubes()
    out = model(x)
    for b in range(B):
        s = torch.stack([torch.stack([model.att_w.weight[0] @ v for v in frame]) for frame in cells(x[b])])
        a = s.flatten().softmax(0).view_as(s)
        z = sum(a[t, i] * v for t, frame in enumerate(cells(x[b])) for i, v in enumerate(frame))
        torch.testing.assert_close(out.logits[b], model.classifier(z))
        torch.testing.assert_close(out.temporal[b], a.sum(1))
        torch.testing.assert_close(out.spatial[b].flatten(1), a / a.sum(1, keepdim=True))


@pytest.mark.parametrize("scorer", ["linear", "gated"])
def test_frame_gate_timing_equations(scorer: str) -> None:
    """timing="frame_gate": p = softmax of each frame's scores s = w^T(...) + b, g_t = sigmoid(max_i s_{t,i}),
    a_{t,i} = g_t / sum g * p_{t,i}; the read-out as with one softmax."""
    model = built(scorer=scorer, timing="frame_gate", uniform_start=False, reduce_dim=4, attention_size=5)
    with torch.no_grad():
        model.att_w.bias.fill_(-0.7)
    x = cubes(2)
    out = model(x)
    for b in range(B):
        frames = cells(x[b])
        if scorer == "linear":
            s = [[model.att_w.weight[0] @ v + model.att_w.bias[0] for v in frame] for frame in frames]
        else:
            conv = model.reduce.proj[0]
            h = [[torch.relu(conv.weight.flatten(1) @ v + conv.bias) for v in frame] for frame in frames]
            gated = [[torch.tanh(model.att_v(hi)) * torch.sigmoid(model.att_u(hi)) for hi in frame] for frame in h]
            s = [[model.att_w.weight[0] @ gi + model.att_w.bias[0] for gi in frame] for frame in gated]
        p = [[torch.exp(si) / sum(torch.exp(sj) for sj in frame) for si in frame] for frame in s]
        g = [torch.sigmoid(max(frame)) for frame in s]
        tau = [gt / sum(g) for gt in g]
        a = [[tau[t] * pi for pi in p[t]] for t in range(T)]
        z = sum(ai * v for fa, fx in zip(a, frames, strict=True) for ai, v in zip(fa, fx, strict=True))
        torch.testing.assert_close(out.logits[b], model.classifier(z))
        torch.testing.assert_close(out.temporal[b], torch.stack(tau))
        torch.testing.assert_close(out.spatial[b].flatten(1), torch.stack([torch.stack(frame) for frame in p]))


def test_frame_gate_starts_as_average_pooling() -> None:
    model = built(timing="frame_gate")
    x = cubes(1)
    out = model(x)
    torch.testing.assert_close(out.temporal, torch.full((B, T), 1 / T))
    torch.testing.assert_close(out.logits, model.classifier(x.mean(dim=(1, 3, 4))))


def test_only_the_frame_gate_gives_the_scorer_a_bias() -> None:
    """A bias cancels in one softmax over the cells: the joint timing has none to save."""
    assert built(scorer="linear").att_w.bias is None
    assert built(scorer="linear", timing="frame_gate").att_w.bias is not None


def test_unknown_timing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timing must be one of joint, frame_gate"):
        built(timing="softmax")


def test_unknown_scorer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="scorer must be one of gated, linear"):
        built(scorer="mlp")


def test_a_cells_neighbourhood_is_the_mean_of_the_3_by_3_cells_inside_the_grid() -> None:
    """with_neighbourhood on one 3 x 3 frame holding 0..8 row by row: [x_i ; n_i], n_i averaged by hand."""
    x = torch.arange(9.0).view(1, 9, 1)
    out = with_neighbourhood(x, 3)
    torch.testing.assert_close(out[0, :, 0], x[0, :, 0])
    corner, edge, centre = (0 + 1 + 3 + 4) / 4, (0 + 1 + 2 + 3 + 4 + 5) / 6, sum(range(9)) / 9
    expected = [corner, edge, (1 + 2 + 4 + 5) / 4, (0 + 1 + 3 + 4 + 6 + 7) / 6, centre, (1 + 2 + 4 + 5 + 7 + 8) / 6,
                (3 + 4 + 6 + 7) / 4, (3 + 4 + 5 + 6 + 7 + 8) / 6, (4 + 5 + 7 + 8) / 4]  # fmt: skip
    torch.testing.assert_close(out[0, :, 1], torch.tensor(expected))


def test_linear_context_scorer_equations() -> None:
    """scorer="linear_context": s_{t,i} = w^T [x_{t,i} ; n_{t,i}] + b; on the 2 x 2 grid every cell's neighbourhood
    is the whole frame, n_{t,i} = the frame's mean cell."""
    model = built(scorer="linear_context", timing="frame_gate", uniform_start=False)
    assert model.att_w.in_features == 2 * D and model.box_threshold == 0.25
    x = cubes()
    out = model(x)
    w, bias = model.att_w.weight[0], model.att_w.bias[0]
    for b in range(B):
        s = torch.stack(
            [torch.stack([w @ torch.cat([v, sum(frame) / len(frame)]) + bias for v in frame]) for frame in cells(x[b])]
        )
        g = torch.sigmoid(s.amax(1))
        a = (g / g.sum())[:, None] * s.softmax(1)
        z = sum(a[t, i] * v for t, frame in enumerate(cells(x[b])) for i, v in enumerate(frame))
        torch.testing.assert_close(out.logits[b], model.classifier(z))
        torch.testing.assert_close(out.temporal[b], a.sum(1))
