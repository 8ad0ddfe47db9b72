"""The learning-curve tables of ``benchmarks.learning_curves``: a model trained only up to some size leaves its
larger cells marked, and ``NAME:N`` sets that size."""

from __future__ import annotations

import pytest
from benchmarks.learning_curves import curve_tables, parse_models


def row(name: str, top1: float, seeds: int = 3) -> dict[str, float | str | int]:
    metrics = {"top1": top1, "pointing_game": 0.5, "frame_map_0.3": 0.25, "temporal_map_0.5": 0.125}
    out: dict[str, float | str | int] = {"name": name, "seeds": seeds, **metrics}
    for key, value in metrics.items():
        out[f"{key}_min"], out[f"{key}_max"] = value - 0.01, value + 0.01
    return out


def test_model_names_carry_their_largest_size() -> None:
    assert parse_models("attention_pool, stam:56,wtalc:140") == {"attention_pool": None, "stam": 56, "wtalc": 140}
    with pytest.raises(ValueError):
        parse_models("stam:many")


def test_a_model_not_trained_at_a_size_leaves_that_cell_marked() -> None:
    table = {
        28: [row("ceiling", 0.9, seeds=1), row("attention_pool", 0.8), row("stam", 0.6)],
        280: [row("ceiling", 0.95, seeds=1), row("attention_pool", 0.97)],
    }
    top1 = curve_tables(table).split("\n\n")[0].splitlines()
    assert top1[0] == "| test top-1 | 28 per class | 280 per class |"
    assert top1[2] == "| ceiling | 0.900 | 0.950 |"
    assert top1[3] == "| attention_pool | 0.800 (0.79-0.81) | 0.970 (0.96-0.98) |"
    assert top1[4] == "| stam | 0.600 (0.59-0.61) | not trained |"
