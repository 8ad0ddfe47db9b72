"""The shared attention regularizers against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from wherewhen.losses import doubly_stochastic, mask_contrast, total_variation_l1, unimodality


def test_doubly_stochastic_uniform_attention_is_l_minus_t_squared_over_l() -> None:
    b, t, k = 2, 30, 7
    alpha = torch.full((b, t, k, k), 1.0 / (k * k))
    assert doubly_stochastic(alpha).item() == pytest.approx((49 - 30) ** 2 / 49, rel=1e-5)
    assert doubly_stochastic(alpha).item() == pytest.approx(7.367, abs=5e-4)


def test_doubly_stochastic_hand_computed_and_averaged_over_batch() -> None:
    # video 0: 2 frames both on location 0 -> sums (2, 0, 0) -> (1-2)^2 + 1 + 1 = 3
    # video 1: frame 0 on location 1, frame 1 on location 2 -> sums (0, 1, 1) -> 1
    alpha = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    assert doubly_stochastic(alpha).item() == pytest.approx((3 + 1) / 2)


def test_total_variation_l1_on_hand_made_masks() -> None:
    flat = torch.full((1, 1, 4, 4), 0.3)
    assert total_variation_l1(flat).item() == 0.0
    # a single 1 in the middle of a 3x3 zero mask: 4 differences of 1
    spike = torch.zeros(1, 1, 3, 3)
    spike[0, 0, 1, 1] = 1.0
    assert total_variation_l1(spike).item() == pytest.approx(4.0)
    # a 2x2 checkerboard of 0/1: 2 vertical + 2 horizontal differences; two such frames sum to 8, batch mean of 8 and 0
    checker = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    masks = torch.stack([torch.stack([checker, checker]), torch.zeros(2, 2, 2)])
    assert total_variation_l1(masks).item() == pytest.approx((8 + 0) / 2)


def test_mask_contrast_on_hand_made_mask() -> None:
    # cells above 0.5 count -M/2, the rest +M/2: -0.9/2 - 0.6/2 + 0.2/2 + 0.5/2 = -0.4
    mask = torch.tensor([[[[0.9, 0.6], [0.2, 0.5]]]])
    assert mask_contrast(mask).item() == pytest.approx(-0.4)
    binary = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert mask_contrast(binary).item() == pytest.approx(-1.0)


def test_mask_contrast_gradient_pushes_cells_away_from_one_half() -> None:
    mask = torch.tensor([[[[0.8, 0.3]]]], requires_grad=True)
    mask_contrast(mask).backward()
    assert mask.grad is not None
    assert mask.grad.flatten().tolist() == [-0.5, 0.5]  # descent raises 0.8 and lowers 0.3


def test_unimodality_has_no_square_root() -> None:
    # one interior violation: 0.5 * 0.4 - 0.1^2 = 0.19 (a square root would give 0.436)
    w = torch.tensor([[0.5, 0.1, 0.4]])
    assert unimodality(w).item() == pytest.approx(0.19)
    assert unimodality(w).item() != pytest.approx(math.sqrt(0.19))


def test_unimodality_sums_over_steps_and_frames_and_is_zero_for_log_concave() -> None:
    bimodal = torch.tensor([0.3, 0.05, 0.3, 0.05, 0.3])  # hinges at the 3 interior frames: 0.0875, 0, 0.0875
    peaked = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1])  # log-concave: no violation
    weights = torch.stack([torch.stack([bimodal, peaked]), torch.stack([peaked, peaked])])  # (B=2, S=2, n=5)
    assert unimodality(peaked.view(1, 5)).item() == 0.0
    assert unimodality(weights).item() == pytest.approx((0.0875 + 0.0875 + 0.0) / 2)
