"""stam: the classification loss reaches the mask and the temporal attention; its regularizers are the paper's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from wherewhen.errors import ConfigError
from wherewhen.losses import mask_contrast, total_variation_l1
from wherewhen.models import build_model
from wherewhen.models.stam import SpatioTemporalAttention

B, T, D, K, C = 3, 7, 16, 5, 3


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**kwargs: float) -> SpatioTemporalAttention:
    torch.manual_seed(0)
    model = build_model("stam", num_classes=C, in_channels=D, grid=K, reduce_dim=12, hidden_channels=8, **kwargs)
    assert isinstance(model, SpatioTemporalAttention)
    return model


def _cubes() -> torch.Tensor:
    return torch.randn(B, T, D, K, K, generator=torch.Generator().manual_seed(1)).relu()


def test_cross_entropy_alone_trains_mask_and_temporal_attention() -> None:
    """A detached attention graph (as in a public implementation) would leave these gradients at zero."""
    model = _model(dropout=0.0).train()
    out = model(_cubes())
    F.cross_entropy(out.logits, torch.tensor([0, 1, 2])).backward()
    attention_params = {
        "mask conv 1": model.mask_net[0].weight,
        "mask conv 2": model.mask_net[3].weight,
        "mask conv 3": model.mask_net[6].weight,
        "phi_X": model.att_x.weight,
        "phi_H": model.att_h.weight,
        "v": model.att_v.weight,
    }
    for label, param in attention_params.items():
        assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient from the CE loss to {label}"


def test_gradient_flows_through_the_attention_weights_to_the_logits() -> None:
    model = _model(dropout=0.0).eval()
    out = model(_cubes())
    weights = out.extras["step_attention"]
    assert weights.requires_grad and out.temporal.requires_grad and out.spatial.requires_grad
    (grad,) = torch.autograd.grad(out.logits[:, 0].sum(), model.att_h.weight)
    assert grad.abs().sum() > 0


def test_temporal_attention_queries_every_frame_at_every_step() -> None:
    model = _model().eval()
    with torch.no_grad():
        out = model(_cubes())
    w = out.extras["step_attention"]
    assert w.shape == (B, T, T)
    torch.testing.assert_close(w.sum(dim=2), torch.ones(B, T))
    # temporal: each frame's share of the attended input, step attention times the mask's mass
    looked = w.mean(dim=1) * out.spatial.sum(dim=(2, 3))
    torch.testing.assert_close(out.temporal, looked / looked.sum(dim=1, keepdim=True))
    assert not torch.allclose(w[:, 0], w[:, -1]), "the query H_{t-1} should change the weights over steps"


def test_regularizers_are_weighted_paper_terms() -> None:
    lambdas = {"lambda_tv": 0.3, "lambda_contrast": 0.2, "lambda_uni": 5.0}
    model = _model(**lambdas).eval()
    with torch.no_grad():
        out = model(_cubes())
    mask, w = out.spatial, out.extras["step_attention"]
    assert ((mask >= 0) & (mask <= 1)).all()
    # unimodality written out here: sum over steps t and interior frames i of max(0, w_{i-1} w_{i+1} - w_i^2)
    hinge = torch.zeros(B)
    for b in range(B):
        for t in range(T):
            for i in range(1, T - 1):
                hinge[b] += max(0.0, float(w[b, t, i - 1] * w[b, t, i + 1] - w[b, t, i] ** 2))
    torch.testing.assert_close(out.regularizers["unimodal"], 5.0 * hinge.mean())
    torch.testing.assert_close(out.regularizers["tv"], 0.3 * total_variation_l1(mask))
    torch.testing.assert_close(out.regularizers["contrast"], 0.2 * mask_contrast(mask))


def test_paper_lambdas_are_the_defaults() -> None:
    model = build_model("stam", num_classes=C, in_channels=D, grid=K)
    assert (model.lambda_tv, model.lambda_contrast, model.lambda_uni) == (1e-5, 1e-4, 1.0)


def test_paper_variant_reads_out_through_the_convlstm_only() -> None:
    """energy="mean", deep_output=False, mask_bias=0 is the paper's model: no read-out besides the ConvLSTM's."""
    model = _model(energy="mean", deep_output=False, mask_bias=0.0).eval()
    assert model.context_out is None
    with torch.no_grad():
        out = model(_cubes())
        torch.testing.assert_close(out.logits, out.frame_logits.mean(dim=1))
    with pytest.raises(ConfigError, match="energy"):
        _model(energy="max")


def test_separable_input_convolution_is_a_depthwise_then_a_1x1_kernel() -> None:
    """input_conv="separable": the ConvLSTM's input-to-state convolution is a depthwise 3x3 (one filter per channel)
    followed by the cell's 1x1 input kernel; the state-to-state kernel stays 3x3."""
    full, separable = _model(), _model(input_conv="separable")
    assert full.input_spatial is None and full.cell.input is None
    assert separable.input_spatial is not None and separable.input_spatial.groups == separable.reduce.out_channels
    assert separable.cell.input is not None and separable.cell.input.kernel_size == (1, 1)
    assert separable.cell.gates.kernel_size == (3, 3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(separable) < count(full)
    with torch.no_grad():
        out = separable.eval()(_cubes())
    assert torch.isfinite(out.logits).all() and out.temporal.sum(dim=1).allclose(torch.ones(out.temporal.shape[0]))
    with pytest.raises(ConfigError, match="input_conv"):
        _model(input_conv="dilated")


def test_separable_makes_both_convolutions_separable() -> None:
    """separable=True: the cell's own depthwise 3x3 on the input and on the state, one 1x1 to the gates; no
    model-level depthwise part; it cannot be combined with input_conv="separable"."""
    model = _model(separable=True)
    assert model.input_spatial is None and model.cell.input is None
    assert model.cell.input_depthwise is not None and model.cell.state_depthwise is not None
    assert model.cell.gates.kernel_size == (1, 1)
    assert model.build_kwargs["separable"] is True
    with pytest.raises(ConfigError, match="separable=True already"):
        _model(separable=True, input_conv="separable")
