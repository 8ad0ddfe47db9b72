"""stam's per-step mix of the frames' gate rows: the gradient of the rows taken once equals autograd's own."""

from __future__ import annotations

import torch

from wherewhen.models._frame_mix import FrameMixer


def recurrence(frames: torch.Tensor, bias: torch.Tensor, query: torch.Tensor, fast: bool) -> torch.Tensor:
    """A toy recurrence like stam's: each step's weights depend on the previous step's mix."""
    mixer = FrameMixer(frames, bias) if fast else None
    state = torch.zeros(frames.shape[0], 1, frames.shape[2], dtype=frames.dtype)
    outputs = []
    for _ in range(4):
        w = (state @ query).softmax(dim=-1)  # (B, 1, n)
        state = torch.tanh(mixer.mix(w) if mixer else torch.baddbmm(bias, w, frames))
        outputs.append(state)
    return torch.cat(outputs, dim=1)


def test_gradients_equal_autograds_and_survive_a_second_backward() -> None:
    torch.manual_seed(0)
    frames = torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    query = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 4, 6, dtype=torch.float64)
    grads = {}
    for fast in (False, True):
        loss = (recurrence(frames, bias, query, fast) * weights).sum()
        grads[fast] = torch.autograd.grad(loss, (frames, bias, query), retain_graph=True)
        again = torch.autograd.grad(loss, (frames, bias, query))  # the kept step gradients start over
        for first, second in zip(grads[fast], again, strict=True):
            torch.testing.assert_close(first, second)
    for reference, fast in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(fast, reference)
    assert torch.autograd.gradcheck(lambda f, b, q: recurrence(f, b, q, True), (frames, bias, query))


def test_without_gradients_it_is_the_plain_product() -> None:
    torch.manual_seed(1)
    frames, bias, w = torch.randn(2, 5, 6), torch.randn(6), torch.rand(2, 1, 5)
    with torch.no_grad():
        mixer = FrameMixer(frames.requires_grad_(), bias)
        assert not mixer.tracks and torch.equal(mixer.mix(w), torch.baddbmm(bias, w, frames))
