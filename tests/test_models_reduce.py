"""The 1x1 reduction on channels-last rows: the convolution its weights are, one copy of the stored cubes, and the
same outputs whatever layout and dtype the cubes arrive in (the store's float16, evaluation's float32, the backbone's
channels-last strides in `explain`)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from wherewhen.models import available_models, build_model
from wherewhen.models._reduce import ChannelReducer, as_cubes, as_rows

B, T, D, K, C = 2, 5, 40, 4, 3


def stored_cubes() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(B, T, D, K, K).mul(3).to(torch.float16)  # non-negative, as the backbone's activations


def test_the_reduction_is_its_one_by_one_convolution_with_relu() -> None:
    torch.manual_seed(1)
    reducer = ChannelReducer(D, 8)
    cubes = stored_cubes().float()
    conv = reducer.proj[0]
    expected = F.relu(F.conv2d(cubes.flatten(0, 1), conv.weight, conv.bias)).unflatten(0, (B, T))
    rows = as_rows(cubes, reducer)
    assert rows.shape == (B, T, K, K, D) and rows.is_contiguous()
    torch.testing.assert_close(as_cubes(reducer(rows)), expected, rtol=1e-5, atol=1e-6)
    assert as_cubes(reducer(rows)).is_contiguous()
    assert set(reducer.state_dict()) == {"proj.0.weight", "proj.0.bias"}  # saved models keep their keys
    assert ChannelReducer(D, None)(rows) is rows


def test_rows_are_one_copy_in_the_models_dtype_or_a_view_when_already_channels_last() -> None:
    module = torch.nn.Linear(2, 2)
    stored = stored_cubes()
    rows = as_rows(stored, module)
    assert rows.dtype == torch.float32 and rows.is_contiguous()
    assert torch.equal(rows, stored.float().permute(0, 1, 3, 4, 2))
    contiguous = as_rows(stored.float(), module)  # same dtype, transposed: still copied to contiguous rows
    assert contiguous.is_contiguous() and torch.equal(contiguous, rows)
    channels_last = stored.float().permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    view = as_rows(channels_last, module)
    assert view.data_ptr() == channels_last.data_ptr() and torch.equal(view, rows)
    assert as_rows(stored, module.double()).dtype == torch.float64


@pytest.mark.parametrize("name", available_models())
def test_every_model_gives_the_same_outputs_for_every_layout_of_the_same_cubes(name: str) -> None:
    torch.manual_seed(2)
    model = build_model(name, num_classes=C, in_channels=D, grid=K).eval()
    stored = stored_cubes()
    forms = {
        "float16": stored,
        "float32": stored.float(),
        "channels last": stored.float().permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3),
    }
    flow = stored.flip(1) if model.uses_flow else None
    with torch.no_grad():
        outputs = {form: model(cubes, flow) for form, cubes in forms.items()}
    first = outputs["float16"]
    for form, out in outputs.items():
        for field in ("logits", "spatial", "temporal"):
            assert torch.equal(getattr(out, field), getattr(first, field)), (form, field)
