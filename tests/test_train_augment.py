"""Augmentation of cached cubes: each transform on cubes whose values name their clip, row and cell, and an
augmented run that resumes bit-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from test_train_run import assert_same_run, config
from test_train_support import make_store
from wherewhen.errors import ConfigError
from wherewhen.features.store import FeatureStore
from wherewhen.train.augment import AugmentSection, augment_batch
from wherewhen.train.config import load_config
from wherewhen.train.run import resume_run, train

B, T, D, K, C = 6, 8, 3, 4, 3


def named_cubes() -> torch.Tensor:
    """cube[b, t, d, r, c] = 1000 b + 100 t + 10 r + c (d ignored): every value says where it came from."""
    b, t, r, c = torch.meshgrid(torch.arange(B), torch.arange(T), torch.arange(K), torch.arange(K), indexing="ij")
    return (1000 * b + 100 * t + 10 * r + c).float()[:, :, None].expand(B, T, D, K, K).contiguous()


def batch() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    cubes = named_cubes()
    return {"cubes": cubes, "frame_mask": torch.arange(T).float().expand(B, T).clone()}, torch.arange(B) % C


def test_no_augmentation_returns_the_batch_itself() -> None:
    inputs, targets = batch()
    out, out_targets = augment_batch(inputs, targets, C, AugmentSection())
    assert out is inputs and out_targets is targets


def test_temporal_crop_resamples_one_window_per_clip() -> None:
    torch.manual_seed(0)
    inputs, targets = batch()
    out, out_targets = augment_batch(inputs, targets, C, AugmentSection(crop=0.5))
    assert out_targets is targets
    for b in range(B):
        rows = (out["cubes"][b, :, 0, 0, 0] - 1000 * b) / 100
        assert torch.equal(rows, out["frame_mask"][b])  # every input follows the same rows
        assert (rows.diff() >= 0).all() and rows.max() - rows.min() + 1 >= T // 2 - 1
        window = int(rows.max() - rows.min()) + 1
        assert window <= T and len(rows.unique()) == min(window, T)


def test_mirror_flips_columns() -> None:
    inputs, targets = batch()
    out, _ = augment_batch(inputs, targets, C, AugmentSection(mirror=1.0))
    assert torch.equal(out["cubes"], inputs["cubes"].flip(-1))


def test_shift_moves_the_grid_and_repeats_its_edge() -> None:
    torch.manual_seed(1)
    inputs, targets = batch()
    out, _ = augment_batch(inputs, targets, C, AugmentSection(shift=1))
    idx = torch.arange(K)

    def shifted(dy: int, dx: int) -> torch.Tensor:
        return (10 * (idx - dy).clamp(0, K - 1)[:, None] + (idx - dx).clamp(0, K - 1)[None, :]).float()

    seen = set()
    for b in range(B):
        grids = out["cubes"][b] - 1000 * b - 100 * torch.arange(T).float()[:, None, None, None]
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if torch.equal(grids[0, 0], shifted(dy, dx))]
        assert len(matches) == 1
        assert torch.equal(grids, grids[:1, :1].expand_as(grids))  # one shift for every row and channel
        seen.add(matches[0])
    assert len(seen) > 1


def test_mixing_takes_half_the_rows_of_another_clip_and_splits_the_label() -> None:
    torch.manual_seed(2)
    inputs, targets = batch()
    out, probs = augment_batch(inputs, targets, C, AugmentSection(mix=1.0, mix_rows=0.5))
    assert probs.shape == (B, C)
    for b in range(B):
        source = out["cubes"][b, :, 0, 0, 0] // 1000
        rows = (out["cubes"][b, :, 0, 0, 0] % 1000) // 100
        assert torch.equal(rows, torch.arange(T).float())  # rows stay in place
        partner = int(source[source != b][0])
        assert (source == b).sum() == T // 2 and (source == partner).sum() == T // 2
        expected = 0.5 * torch.nn.functional.one_hot(targets[b], C) + 0.5 * torch.nn.functional.one_hot(
            targets[partner], C
        )
        torch.testing.assert_close(probs[b], expected.float())


def test_mixing_with_the_same_class_keeps_the_label() -> None:
    torch.manual_seed(3)
    inputs, targets = batch()  # classes 0, 1, 2, 0, 1, 2: every clip has one partner of its class
    out, probs = augment_batch(inputs, targets, C, AugmentSection(mix=1.0, mix_same=1.0))
    torch.testing.assert_close(probs, torch.nn.functional.one_hot(targets, C).float())
    for b in range(B):
        source = out["cubes"][b, :, 0, 0, 0] // 1000
        assert set(source.long().tolist()) == {b, (b + 3) % B}


def test_cell_dropout_zeroes_whole_cells_and_noise_follows_its_scale() -> None:
    torch.manual_seed(4)
    inputs, targets = batch()
    out, _ = augment_batch(inputs, targets, C, AugmentSection(cell_dropout=0.5))
    zero = out["cubes"] == 0
    assert torch.equal(zero.all(dim=2), zero.any(dim=2))  # a cell loses all of its D features or none
    assert 0.35 < zero[:, :, 0].float().mean() < 0.65
    noisy, _ = augment_batch(inputs, targets, C, AugmentSection(noise=0.1))
    ratio = (noisy["cubes"] - inputs["cubes"]).std() / inputs["cubes"].std()
    assert ratio == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize(
    ("key", "value"), [("mix", 1.5), ("crop", 0.0), ("mix_rows", 1.0), ("shift", -1), ("noise", -0.1)]
)
def test_bad_settings_are_one_line_errors(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"augment.{key}"):
        load_config(None, [f"augment.{key}={value}"], values={"data.store": "x"})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return make_store(tmp_path_factory.mktemp("augment") / "store", splits={"train": 30, "test": 6})


def test_augmented_run_learns_and_resumes_bit_identical(store: FeatureStore, tmp_path: Path) -> None:
    # (softmax_cube reads each cell's place, so the synthetic store's class signal does not survive a shifted grid)
    sets = ["augment.mix=0.5", "augment.crop=0.75", "augment.cell_dropout=0.1", "augment.noise=0.05", "train.epochs=4"]
    straight = train(config(store, *sets), tmp_path / "straight", verbose=False)
    train(config(store, *sets), tmp_path / "split", stop_after_epoch=2, verbose=False)
    resume_run(tmp_path / "split", verbose=False)
    assert_same_run(tmp_path / "straight", tmp_path / "split")
    assert straight.history[-1]["val/accuracy"] > 1 / 3
