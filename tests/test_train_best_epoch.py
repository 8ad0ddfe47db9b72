"""Which epoch training keeps: the tracker's rule for ties on validation accuracy."""

from __future__ import annotations

import pytest

from wherewhen.errors import ConfigError
from wherewhen.train.config import load_config
from wherewhen.train.engine import BestTracker

# validation accuracy saturates at epoch 2 while the loss keeps falling (a model growing more confident)
EPOCHS = [(0.60, 1.0), (0.99, 0.30), (0.99, 0.20), (0.99, 0.10), (0.98, 0.05)]


def best_epoch(tracker: BestTracker) -> int:
    for epoch, (accuracy, loss) in enumerate(EPOCHS, start=1):
        tracker.update(epoch, {"val/accuracy": accuracy, "val/loss": loss})
    return tracker.best_epoch


def test_ties_on_accuracy_go_to_the_lower_loss_by_default() -> None:
    assert best_epoch(BestTracker("val_accuracy", patience=10)) == 4


def test_earliest_keeps_the_first_epoch_that_reached_the_best_accuracy() -> None:
    tracker = BestTracker("val_accuracy", patience=2, tie_break="earliest")
    assert best_epoch(tracker) == 2
    assert tracker.bad_epochs == 3  # the epochs after it count towards early stopping


def test_the_tie_break_is_a_checked_setting() -> None:
    assert load_config(None, ["train.tie_break=earliest"]).train.tie_break == "earliest"
    with pytest.raises(ConfigError, match=r"train\.tie_break"):
        load_config(None, ["train.tie_break=latest"])
