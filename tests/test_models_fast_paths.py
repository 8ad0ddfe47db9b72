"""The recurrent conv heads' fast forward passes against their former straightforward implementations.

convlstm, conv_alstm, motion_alstm and stam split the fused ConvLSTM gate convolution, convolve inputs for all
frames at once where the equations allow it, and pool before the attention's last 1x1 convolution. The reference
functions below are the per-step forward passes these models had before (copied verbatim apart from names): every
output, regularizer, extra and parameter gradient must match them, in eval mode and in train mode with dropout
(the same dropout draws, in the same order, from the same seed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import Tensor

from wherewhen.losses import mask_contrast, total_variation_l1, unimodality
from wherewhen.models import ModelOutput, build_model
from wherewhen.models._convlstm import ConvLSTMCell
from wherewhen.models._heads import grid_softmax
from wherewhen.models.output import uniform_spatial, uniform_temporal

T, D, K, C = 5, 12, 5, 3
SMALL = {"reduce_dim": 8, "hidden_channels": 6}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_cell(cell: ConvLSTMCell, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    h, c = state
    if cell.input_depthwise is not None and cell.state_depthwise is not None:  # separable: depthwise, then 1x1
        x, h = cell.input_depthwise(x), cell.state_depthwise(h)
    # with an input kernel of its own size, W_x* is in ``input``, W_h* and the bias in ``gates``
    gates = cell.gates(torch.cat([x, h], dim=1)) if cell.input is None else cell.input(x) + cell.gates(h)
    i, f, o, g = gates.chunk(4, dim=1)
    if cell.peephole:
        i = i + cell.w_ci * c
        f = f + cell.w_cf * c
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if cell.peephole:
        o = o + cell.w_co * c_new
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new


def as_model_dtype(cubes: Tensor, model: Any) -> Tensor:
    return cubes.to(next(model.parameters()).dtype)


def reference_reduce(reducer: Any, cubes: Tensor) -> Tensor:
    """The reduction as the 1x1 convolution its weights are, on (B, T, D, K, K) cubes."""
    return reducer.proj(cubes.flatten(0, 1)).unflatten(0, cubes.shape[:2])


def reference_convlstm(self: Any, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
    b, t = cubes.shape[:2]
    x = self.dropout(reference_reduce(self.reduce, as_model_dtype(cubes, self)))
    states = [cell.zero_state(b, self.grid, x) for cell in self.cells]
    pooled = []
    for step in range(t):
        inp = x[:, step]
        for i, cell in enumerate(self.cells):
            states[i] = reference_cell(cell, inp if i == 0 else self.dropout(inp), states[i])
            inp = states[i][0]
        pooled.append(inp.mean(dim=(2, 3)))
    frame_logits = self.classifier(self.dropout(torch.stack(pooled, dim=1)))
    return ModelOutput(
        logits=frame_logits.mean(dim=1),
        spatial=uniform_spatial(b, t, self.grid, frame_logits),
        temporal=uniform_temporal(b, t, frame_logits),
        frame_logits=frame_logits,
    )


def reference_conv_alstm(self: Any, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
    b, t = cubes.shape[:2]
    cubes = as_model_dtype(cubes, self)
    x = reference_reduce(self.reduce, cubes)
    source = (
        x
        if flow is None or self.reduce_flow is None
        else reference_reduce(self.reduce_flow, as_model_dtype(flow, self))
    )
    keys = self.att_x(source.flatten(0, 1)).unflatten(0, (b, t))
    state = self.init_state(x.mean(dim=1))
    scale = float(self.grid * self.grid)
    maps, pooled = [], []
    for step in range(t):
        attention = grid_softmax(self.att_z(torch.tanh(keys[:, step] + self.att_h(state[0]))))
        state = reference_cell(self.cell, self.dropout(scale * attention * x[:, step]), state)
        maps.append(attention.squeeze(1))
        pooled.append(state[0].mean(dim=(2, 3)))
    frame_logits = self.classifier(self.dropout(torch.stack(pooled, dim=1)))
    spatial = torch.stack(maps, dim=1)
    if self.context_out is not None:
        context = torch.einsum("btkl,btdkl->btd", spatial, cubes)
        frame_logits = frame_logits + self.context_out(self.dropout(context))
    return ModelOutput(
        logits=frame_logits.mean(dim=1),
        spatial=spatial,
        temporal=uniform_temporal(b, t, frame_logits),
        frame_logits=frame_logits,
    )


def reference_stam(self: Any, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:
    b, t = cubes.shape[:2]
    cubes = as_model_dtype(cubes, self)
    x = reference_reduce(self.reduce, cubes)
    mask = self.mask_net(x.flatten(0, 1)).unflatten(0, (b, t))
    masked = self.dropout(mask * x)
    keys = self.att_x(masked.flatten(0, 1)).unflatten(0, (b, t))
    state = self.init_state(masked.mean(dim=1))
    weights, pooled = [], []
    for _ in range(t):
        query = self.att_h(state[0]).unsqueeze(1)
        field = self.att_v(torch.tanh(keys + query).flatten(0, 1)).unflatten(0, (b, t))
        energy = field.sum(dim=(2, 3, 4)) if self.energy == "sum" else field.mean(dim=(2, 3, 4))
        w = energy.softmax(dim=1)
        y = torch.einsum("bi,bickl->bckl", w, masked)
        if self.input_spatial is not None:  # input_conv="separable": the depthwise part of W_x*
            y = self.input_spatial(y)
        state = reference_cell(self.cell, y, state)
        weights.append(w)
        pooled.append(state[0].mean(dim=(2, 3)))
    step_attention = torch.stack(weights, dim=1)
    frame_logits = self.classifier(self.dropout(torch.stack(pooled, dim=1)))
    spatial = mask.squeeze(2)
    temporal = step_attention.mean(dim=1)
    logits = frame_logits.mean(dim=1)
    if self.context_out is not None:
        weights = temporal[:, :, None, None] * spatial
        weights = weights / weights.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        context = torch.einsum("btkl,btdkl->bd", weights, cubes)
        logits = logits + self.context_out(self.dropout(context))
    return ModelOutput(
        logits=logits,
        spatial=spatial,
        temporal=temporal,
        frame_logits=frame_logits,
        regularizers={
            "tv": self.lambda_tv * total_variation_l1(spatial),
            "contrast": self.lambda_contrast * mask_contrast(spatial),
            "unimodal": self.lambda_uni * unimodality(step_attention),
        },
        extras={"step_attention": step_attention},
    )


# Outputs computed after the recurrence, from outputs compared here, by code the fast paths leave as it is (and that
# may change on its own: stam's temporal output is a function of its step attention and mask).
UNTOUCHED = {"stam": {"temporal"}}

REFERENCES: dict[str, Callable[..., ModelOutput]] = {
    "convlstm": reference_convlstm,
    "conv_alstm": reference_conv_alstm,
    "motion_alstm": reference_conv_alstm,
    "stam": reference_stam,
}

VARIANTS = [
    ("convlstm", {}),
    ("convlstm", {"peephole": True}),
    ("convlstm", {"kernel_size": 1}),
    ("convlstm", {"layers": 2, "dropout": 0.0}),  # more layers draw the between-layer dropout masks in another order
    ("conv_alstm", {}),
    ("conv_alstm", {"peephole": True, "deep_output": True}),
    ("conv_alstm", {"attention_kernel": 3, "kernel_size": 1}),
    ("motion_alstm", {}),
    ("motion_alstm", {"peephole": True, "deep_output": True}),
    ("stam", {}),
    ("stam", {"peephole": True, "deep_output": True}),
    ("stam", {"energy": "sum", "reduce_dim": None}),
    ("stam", {"input_conv": "separable", "deep_output": True}),
    ("convlstm", {"separable": True, "layers": 2, "dropout": 0.0}),
    ("conv_alstm", {"separable": True, "peephole": True}),
    ("motion_alstm", {"separable": True}),
    ("stam", {"separable": True}),
]


def _randomized(name: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    """Every parameter non-trivial (peepholes, forget bias, batch-norm affine and running statistics), float64."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=C, in_channels=D, grid=K, **{**SMALL, **kwargs}).double()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 0.4)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn_like(module.running_mean) * 0.2)
                module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
    return model


def _inputs(batch: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    cubes = torch.randn(batch, T, D, K, K, generator=gen, dtype=torch.float64).relu()
    flow = torch.randn(batch, T, D, K, K, generator=gen, dtype=torch.float64).relu()
    return cubes, flow


def _flat(out: ModelOutput) -> dict[str, Tensor]:
    fields = {"logits": out.logits, "spatial": out.spatial, "temporal": out.temporal}
    if out.frame_logits is not None:
        fields["frame_logits"] = out.frame_logits
    fields.update({f"regularizer {k}": v for k, v in out.regularizers.items()})
    fields.update({f"extra {k}": v for k, v in out.extras.items()})
    return fields


def _run(model: torch.nn.Module, forward: Callable[..., ModelOutput], train: bool, batch: int) -> tuple[dict, dict]:
    model.train(train)
    cubes, flow = _inputs(batch)
    torch.manual_seed(2)  # the same dropout masks for both implementations
    out = forward(model, cubes, flow if model.uses_flow else None)
    fields = _flat(out)
    weights = torch.randn(out.logits.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    loss = (out.logits * weights).sum() + sum(out.regularizers.values(), torch.zeros((), dtype=torch.float64))
    if out.frame_logits is not None:
        loss = loss + out.frame_logits.square().mean()
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return fields, grads


@pytest.mark.parametrize("batch", [1, 2], ids=["one-clip", "batch"])  # channels-last steps for one clip
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in VARIANTS])
def test_fast_forward_matches_the_per_step_reference(
    name: str, kwargs: dict[str, Any], train: bool, batch: int
) -> None:
    model = _randomized(name, kwargs)
    reference_model = copy.deepcopy(model)
    got, got_grads = _run(model, lambda m, c, f: m(c, f), train, batch)
    want, want_grads = _run(reference_model, REFERENCES[name], train, batch)
    assert got.keys() == want.keys()
    for key in want.keys() - UNTOUCHED.get(name, set()):
        torch.testing.assert_close(got[key], want[key], rtol=1e-9, atol=1e-11, msg=f"{name} {key}")
    assert got_grads.keys() == want_grads.keys() and len(want_grads) > 0
    for key in want_grads:
        torch.testing.assert_close(got_grads[key], want_grads[key], rtol=1e-9, atol=1e-11, msg=f"{name} grad {key}")
    for key, buffer in reference_model.state_dict().items():  # batch-norm running statistics too
        torch.testing.assert_close(model.state_dict()[key], buffer, rtol=1e-9, atol=1e-11, msg=f"{name} {key}")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("convlstm", {}),
        ("conv_alstm", {}),
        ("stam", {}),
        ("stam", {"input_conv": "separable"}),
        ("conv_alstm", {"separable": True}),
    ],
    ids=["convlstm", "conv_alstm", "stam", "stam-separable-input", "conv_alstm-separable"],
)
def test_float32_fast_forward_is_within_float_tolerance(name: str, kwargs: dict[str, Any]) -> None:
    model = _randomized(name, kwargs).float().eval()
    cubes, _ = _inputs(1)
    with torch.no_grad():
        got, want = _flat(model(cubes.float())), _flat(REFERENCES[name](model, cubes.float()))
    for key in want.keys() - UNTOUCHED.get(name, set()):
        torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6, msg=f"{name} {key}")
