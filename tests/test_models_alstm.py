"""alstm: the doubly stochastic penalty's normalization, and attention over the slices of the current frame."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from wherewhen.models import build_model
from wherewhen.models.alstm import AttentionLSTM


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**kwargs: float) -> AttentionLSTM:
    torch.manual_seed(0)
    model = build_model(
        "alstm", num_classes=3, in_channels=12, grid=7, reduce_dim=8, hidden_size=8, attention_size=4, **kwargs
    )
    assert isinstance(model, AttentionLSTM)
    return model


def test_doubly_stochastic_with_uniform_attention_is_7_367_per_video_times_lambda() -> None:
    """L = 49, T = 30, uniform attention: sum_i (1 - 30/49)^2 = (49 - 30)^2 / 49 = 7.367 per video."""
    model = _model(lambda_ds=0.5).eval()
    with torch.no_grad():
        model.att_score.weight.zero_()  # every location scores the same -> alpha = 1/49
        out = model(torch.rand(2, 30, 12, 7, 7))
    torch.testing.assert_close(out.spatial, torch.full((2, 30, 7, 7), 1 / 49))
    assert out.regularizers["doubly_stochastic"].item() == pytest.approx(0.5 * 361 / 49, rel=1e-5)
    assert out.regularizers["doubly_stochastic"].item() == pytest.approx(0.5 * 7.367, abs=1e-3)


def test_attention_follows_the_frame_content() -> None:
    """alpha_t is an MLP of x_{t,i} and h_{t-1}: moving a bright patch moves the attention's argmax with it."""
    model = _model().eval()
    with torch.no_grad():
        # make the reduced features and the attention score monotone functions of the feature magnitude
        model.reduce.proj[0].weight.fill_(0.1)
        model.reduce.proj[0].bias.zero_()
        model.att_x.weight.fill_(0.1)
        model.att_x.bias.zero_()
        model.att_h.weight.zero_()
        model.att_score.weight.fill_(1.0)
        cubes = torch.full((1, 4, 12, 7, 7), 0.1)
        for t, (row, col) in enumerate([(0, 0), (3, 3), (6, 1), (2, 5)]):
            cubes[0, t, :, row, col] = 5.0
        out = model(cubes)
    peaks = [divmod(int(out.spatial[0, t].argmax()), 7) for t in range(4)]
    assert peaks == [(0, 0), (3, 3), (6, 1), (2, 5)]
