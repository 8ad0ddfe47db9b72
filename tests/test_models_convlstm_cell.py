"""The fused-gate ConvLSTM cell against the gate equations of Shi et al. written out one by one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from wherewhen.errors import ConfigError
from wherewhen.models._convlstm import ConvLSTMCell


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_step(
    x: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    in_ch: int,
    peep: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    weight_h: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """I, F, O, G with separate input-to-state and state-to-state convolutions, as in the paper. ``weight`` holds
    both kernels side by side, or (with ``weight_h``, the state-to-state kernel) only the input-to-state one."""
    hid = h.shape[1]

    def conv(w: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        return F.conv2d(inp, w, padding=w.shape[-1] // 2)

    def gate(k: int) -> torch.Tensor:
        rows = slice(k * hid, (k + 1) * hid)
        if weight_h is None:
            w_x, w_h = weight[rows, :in_ch], weight[rows, in_ch:]
        else:
            w_x, w_h = weight[rows], weight_h[rows]
        return conv(w_x, x) + conv(w_h, h) + bias[rows].view(1, -1, 1, 1)

    w_ci, w_cf, w_co = peep if peep is not None else (0.0, 0.0, 0.0)
    i = torch.sigmoid(gate(0) + w_ci * c)
    f = torch.sigmoid(gate(1) + w_cf * c)
    g = torch.tanh(gate(3))
    c_next = f * c + i * g
    o = torch.sigmoid(gate(2) + w_co * c_next)
    return o * torch.tanh(c_next), c_next


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("kernel_size", [1, 3])
def test_cell_matches_step_by_step_reference(peephole: bool, kernel_size: int) -> None:
    torch.manual_seed(0)
    in_ch, hid, k, b, steps = 5, 4, 6, 2, 4
    cell = ConvLSTMCell(in_ch, hid, kernel_size, peephole=peephole, grid=k).double()
    with torch.no_grad():  # make every parameter non-trivial, including the peepholes and the forget bias
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    peep = (cell.w_ci, cell.w_cf, cell.w_co) if peephole else None
    xs = torch.randn(steps, b, in_ch, k, k, dtype=torch.float64)
    h = torch.randn(b, hid, k, k, dtype=torch.float64)
    c = torch.randn(b, hid, k, k, dtype=torch.float64)
    h_ref, c_ref = h, c
    with torch.no_grad():
        for x in xs:
            h, c = cell(x, (h, c))
            h_ref, c_ref = reference_step(x, h_ref, c_ref, cell.gates.weight, cell.gates.bias, in_ch, peep)
            torch.testing.assert_close(h, h_ref)
            torch.testing.assert_close(c, c_ref)


@pytest.mark.parametrize("input_kernel_size", [1, 5])
def test_input_kernel_of_its_own_size(input_kernel_size: int) -> None:
    """``input_kernel_size`` != ``kernel_size``: two convolutions; forward, and input_gates + step, follow the
    equations with those kernels."""
    torch.manual_seed(0)
    in_ch, hid, k, b = 5, 4, 6, 2
    cell = ConvLSTMCell(in_ch, hid, 3, grid=k, input_kernel_size=input_kernel_size).double()
    assert cell.input is not None and not cell.fused and cell.fused_weight() is None
    assert cell.input.weight.shape == (4 * hid, in_ch, input_kernel_size, input_kernel_size)
    assert cell.gates.weight.shape == (4 * hid, hid, 3, 3) and cell.gates.bias[hid : 2 * hid].tolist() == [1.0] * hid
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    x = torch.randn(b, in_ch, k, k, dtype=torch.float64)
    h, c = torch.randn(2, b, hid, k, k, dtype=torch.float64)
    with torch.no_grad():
        want = reference_step(x, h, c, cell.input.weight, cell.gates.bias, in_ch, None, cell.gates.weight)
        w_x, w_h = cell.split_weights()
        for got in (cell(x, (h, c)), cell.step(cell.input_gates(x, w_x), (h, c), w_h)):
            torch.testing.assert_close(got[0], want[0])
            torch.testing.assert_close(got[1], want[1])


@pytest.mark.parametrize("peephole", [False, True])
def test_separable_cell_is_a_depthwise_then_a_fused_1x1_convolution(peephole: bool) -> None:
    """``separable=True``: X_t and H_{t-1} each go through a depthwise 3x3 (one filter per channel), then one 1x1
    kernel over both gives the gates; forward, and input_gates + step, follow the equations with those kernels."""
    torch.manual_seed(0)
    in_ch, hid, k, b = 5, 4, 6, 2
    cell = ConvLSTMCell(in_ch, hid, 3, peephole=peephole, grid=k, separable=True).double()
    assert cell.input_depthwise is not None and cell.state_depthwise is not None
    assert cell.input_depthwise.weight.shape == (in_ch, 1, 3, 3) and cell.state_depthwise.weight.shape == (hid, 1, 3, 3)
    assert (
        cell.gates.weight.shape == (4 * hid, in_ch + hid, 1, 1)
        and cell.gates.bias[hid : 2 * hid].tolist() == [1.0] * hid
    )
    full = ConvLSTMCell(in_ch, hid, 3, peephole=peephole, grid=k)

    def kernels(m: ConvLSTMCell) -> int:
        return sum(p.numel() for name, p in m.named_parameters() if name.endswith("weight"))

    assert kernels(cell) < kernels(full) / 4
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    peep = (cell.w_ci, cell.w_cf, cell.w_co) if peephole else None
    x = torch.randn(b, in_ch, k, k, dtype=torch.float64)
    h, c = torch.randn(2, b, hid, k, k, dtype=torch.float64)
    with torch.no_grad():
        x_dw = F.conv2d(x, cell.input_depthwise.weight, padding=1, groups=in_ch)
        h_dw = F.conv2d(h, cell.state_depthwise.weight, padding=1, groups=hid)
        want = reference_step(x_dw, h_dw, c, cell.gates.weight, cell.gates.bias, in_ch, peep)
        want = (want[0], want[1])
        w_x, w_h = cell.split_weights()
        for got in (cell(x, (h, c)), cell.step(cell.input_gates(x, w_x), (h, c), w_h)):
            torch.testing.assert_close(got[0], want[0])
            torch.testing.assert_close(got[1], want[1])


def test_separable_cell_starts_at_the_full_kernel_scale() -> None:
    """The 1x1 gate kernel starts within the 3x3 kernel's bound (fan-in (C_in + C_h) * 9), not its own, larger one."""
    torch.manual_seed(0)
    cell = ConvLSTMCell(128, 64, 3, separable=True)
    bound = ((128 + 64) * 9) ** -0.5
    assert cell.gates.weight.abs().max() <= bound
    assert cell.gates.weight.abs().max() > 0.9 * bound
    with pytest.raises(ConfigError, match="exclude each other"):
        ConvLSTMCell(3, 2, 3, input_kernel_size=1, separable=True)


def test_cell_starts_with_forget_bias_one_and_zero_state() -> None:
    cell = ConvLSTMCell(3, 2, 3)
    assert cell.gates.bias[2:4].tolist() == [1.0, 1.0]
    assert cell.gates.bias[:2].tolist() == [0.0, 0.0]
    h, c = cell.zero_state(5, 7, torch.empty(0))
    assert h.shape == c.shape == (5, 2, 7, 7) and h.abs().sum() == 0


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(ConfigError, match="odd"):
        ConvLSTMCell(3, 2, 2)
    with pytest.raises(ConfigError, match="input_kernel_size must be odd"):
        ConvLSTMCell(3, 2, 3, input_kernel_size=2)
