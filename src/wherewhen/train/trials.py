"""Best of several starts (``train.trials``): a head that finds the cue from one seed may miss it from another
(``stam`` on 110 training clips misses it in about one seed in three, docs/models.md), and the validation split
tells the two apart within a few epochs. Each trial is a whole run under ``RUN/trials/seedN`` that stops after
``train.trial_epochs`` epochs; the one whose validation monitor is best so far (the same rule that picks the best
epoch, ``engine.BestTracker``) is moved to ``RUN`` and finished there, the others are deleted.

Trial k of a run with seed s trains with seed ``s * trials + k``, so runs with different seeds never share a trial,
and trial 0 of seed 0 is the plain run of seed 0. The finished run is its trial's run: its config.yaml names the
trial's seed (with that seed and ``train.trials=1`` the same weights come out). Interrupted, the same command goes
on: finished trials are read, a started one resumes.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from wherewhen.errors import ConfigError
from wherewhen.train.config import RunConfig
from wherewhen.train.engine import BestTracker

TRIALS = "trials"


def trial_seeds(seed: int, trials: int) -> list[int]:
    return [seed * trials + k for k in range(trials)]


def epochs_done(run_dir: Path) -> int:
    """How many epochs the run in ``run_dir`` has finished (rows of its metrics.csv)."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def best_so_far(run_dir: Path, config: RunConfig, epochs: int) -> list[float] | None:
    """The monitored key of the best of the first ``epochs`` epochs in ``run_dir``'s metrics.csv (None without
    validation)."""
    tracker = BestTracker(config.train.monitor, patience=0, tie_break=config.train.tie_break)
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if int(row["epoch"]) > epochs:
                break
            tracker.update(int(row["epoch"]), {k.replace("_", "/", 1): float(v) for k, v in row.items() if v != ""})
    return tracker.best_key


def pick_trial(config: RunConfig, run_dir: Path, train_trial: Callable[[RunConfig, Path, bool], None]) -> RunConfig:
    """Train the trials of ``config`` under ``run_dir/trials`` (``train_trial(config, folder, resume)`` runs one up
    to ``trial_epochs``), move the best into ``run_dir`` and return its configuration, to be resumed there."""
    if config.data.val_fraction <= 0 and not config.data.val_split:
        raise ConfigError("train.trials needs validation to choose on: set data.val_fraction > 0 or data.val_split")
    scores = []
    for seed in trial_seeds(config.seed, config.train.trials):
        folder = run_dir / TRIALS / f"seed{seed}"
        trial = replace(config, seed=seed, train=replace(config.train, trials=1))
        train_trial(trial, folder, (folder / "run.json").is_file())
        scores.append((best_so_far(folder, config, config.train.trial_epochs) or [], -seed, folder, trial))
    _, _, chosen, trial = max(scores, key=lambda s: (s[0], s[1]))  # ties: the lowest seed
    for item in chosen.iterdir():
        shutil.move(str(item), str(run_dir / item.name))
    shutil.rmtree(run_dir / TRIALS)
    return trial
