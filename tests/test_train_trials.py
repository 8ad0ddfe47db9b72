"""train.trials: several starts trained for a few epochs, the best on validation finished (train/trials.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from test_train_run import assert_same_run, config
from test_train_support import make_store
from wherewhen.errors import ConfigError
from wherewhen.features.store import FeatureStore
from wherewhen.train.config import RunConfig
from wherewhen.train.run import train
from wherewhen.train.trials import best_so_far, trial_seeds


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return make_store(tmp_path_factory.mktemp("trials") / "store", splits={"train": 30, "test": 6})


def test_trial_seeds_of_different_runs_never_meet() -> None:
    assert trial_seeds(0, 3) == [0, 1, 2] and trial_seeds(1, 3) == [3, 4, 5] and trial_seeds(2, 1) == [2]


def test_the_best_trial_on_validation_is_finished_and_equals_its_plain_run(store: FeatureStore, tmp_path: Path) -> None:
    sets = ["seed=1", "train.trial_epochs=2", "optim.lr=0.3"]  # a high rate, so the starts differ
    result = train(config(store, *sets, "train.trials=3"), tmp_path / "run", verbose=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert result.finished and not (tmp_path / "run" / "trials").exists()
    assert saved["train"]["trials"] == 3 and saved["seed"] in (3, 4, 5)
    # each trial as a plain run: the chosen one has the best validation of the first two epochs, and its finished
    # run is the same to the bit
    plain = {}
    for seed in (3, 4, 5):
        plain[seed] = tmp_path / f"plain{seed}"
        train(config(store, *sets[1:], f"seed={seed}"), plain[seed], verbose=False)
    keys = {seed: best_so_far(folder, RunConfig(), 2) for seed, folder in plain.items()}
    assert saved["seed"] == max(keys, key=lambda s: (keys[s], -s))
    assert_same_run(tmp_path / "run", plain[saved["seed"]])


def test_interrupted_trials_go_on_where_they_stopped(store: FeatureStore, tmp_path: Path) -> None:
    sets = ["seed=0", "train.trial_epochs=2", "train.trials=2"]
    train(config(store, *sets), tmp_path / "whole", verbose=False)
    # the first trial stopped after one epoch, as if killed: the same command resumes it and trains the second
    first = config(store, "seed=0", "train.trial_epochs=2")
    train(first, tmp_path / "cut" / "trials" / "seed0", stop_after_epoch=1, verbose=False)
    train(config(store, *sets), tmp_path / "cut", verbose=False)
    assert_same_run(tmp_path / "cut", tmp_path / "whole")


def test_trials_need_validation_and_a_free_folder(store: FeatureStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs validation"):
        train(config(store, "train.trials=2", "data.val_fraction=0"), tmp_path / "a", verbose=False)
    train(config(store, "train.epochs=1"), tmp_path / "b", verbose=False)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config(store, "train.trials=2"), tmp_path / "b", verbose=False)
    with pytest.raises(ConfigError, match=r"train\.trials must be >= 1"):
        config(store, "train.trials=0").validate()


def test_trials_refuse_a_torchrun_launch(store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each trial is a whole run of one process; under torchrun (WORLD_SIZE > 1) the choice would run in each."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"train\.trials runs in one process"):
        train(config(store, "train.trials=2"), tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
