"""``train(config) -> RunResult``: everything from a feature store to a run directory, resumable exactly.

A run directory holds::

    config.yaml              the resolved configuration
    run.json                 store, model, classes, the train / val video ids, the test split's name, best epoch
    model/                   the best model so far (models.pretrained: config.json, model.safetensors, classes.txt)
    checkpoints/last.pt      everything needed to continue after the last finished epoch (+ last.json)
    logs/                    TensorBoard events
    metrics.csv              one row per epoch: each loss term, accuracies, learning rate, seconds

Resuming (``resume_run``) restores model, optimizer, scheduler, gradient scaler, random generators, early-stopping
state and the exact train / validation videos, so the finished weights equal those of an uninterrupted run.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from wherewhen.atomic import remove_stale_temporaries
from wherewhen.errors import CheckpointError, ConfigError
from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.distributed import barrier, launched_world_size, setup, teardown
from wherewhen.train.logs import RunLogger
from wherewhen.train.session import (
    RUN_FORMAT,
    RunResult,
    Session,
    default_run_dir,
    holds_a_run,
    prepare,
    read_run_json,
    refuse_taken,
)
from wherewhen.train.teacher import teacher_configs, trains_its_teacher
from wherewhen.train.trials import epochs_done, pick_trial, trial_seeds

__all__ = ["RUN_FORMAT", "RunResult", "default_run_dir", "read_run_json", "resume_run", "train"]


def resume_run(
    run_dir: Path,
    *,
    data: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    stop_after_epoch: int | None = None,
    verbose: bool = True,
) -> RunResult:
    """Continue the run in ``run_dir`` from its last checkpoint (``--set train.epochs=N`` trains further)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(run_dir, "not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml", overrides)
    if data is not None:
        config.data.store = str(data)
    remove_stale_temporaries(run_dir)  # what the interrupted run's atomic writes left
    return train(config, run_dir, resume=True, stop_after_epoch=stop_after_epoch, verbose=verbose)


def refine_finished(session: Session) -> None:
    """``train.refine`` after the last epoch, on rank 0 (the others wait)."""
    if session.ctx.is_main:
        choices = session.refine_best()
        if session.verbose and "skipped" in choices:
            print(f"train.refine skipped ({choices['skipped']}): model/ is the trained model")
        elif session.verbose:
            before, after = choices.get("val_accuracy_before"), choices.get("val_accuracy")
            change = "" if before is None else f": validation clip accuracy {before:.3f} -> {after:.3f}"
            print(f"refined the attention by its own pseudo labels (model-trained/ keeps the trained one){change}")
    barrier(session.ctx)


def choose_trial(config: RunConfig, run_dir: Path, verbose: bool) -> RunConfig:
    """Train ``config.train.trials`` starts and move the best into ``run_dir`` (train/trials.py); its config."""
    if launched_world_size() > 1:
        raise ConfigError("train.trials runs in one process; train without torchrun or set train.trials=1")
    if holds_a_run(run_dir):
        refuse_taken(run_dir)

    def train_trial(trial: RunConfig, folder: Path, started: bool) -> None:
        if started and epochs_done(folder) >= trial.train.trial_epochs:
            return
        train(trial, folder, resume=started, stop_after_epoch=trial.train.trial_epochs, verbose=verbose)

    chosen = pick_trial(config, run_dir, train_trial)
    if verbose:
        seeds = ", ".join(map(str, trial_seeds(config.seed, config.train.trials)))
        epochs = config.train.trial_epochs
        print(
            f"trials (seeds {seeds}): seed {chosen.seed} is the best on validation after {epochs} epochs",
            file=sys.stderr,
        )
    return replace(chosen, train=replace(chosen.train, trials=config.train.trials))


def train_teacher(config: RunConfig, run_dir: Path, verbose: bool) -> None:
    """``train.attention_teacher=MODEL``: train that model under ``RUN/teacher`` first, and on RGB alone under
    ``RUN/teacher-rgb`` where the store also has flow (train/teacher.py); a finished teacher is read, a started one
    resumes, so an interrupted run goes on with the same command."""
    if launched_world_size() > 1:
        raise ConfigError(
            f"train.attention_teacher={config.train.attention_teacher} trains the teacher in one process; train it "
            "first without torchrun and set train.attention_teacher to its run folder"
        )
    for name, teacher in teacher_configs(config):
        folder = run_dir / name
        if (folder / "run.json").is_file():
            run = read_run_json(folder)
            if run["finished"] and ("refinement" in run or not teacher.train.refine):
                continue
        if verbose:
            print(f"training the attention teacher ({teacher.model.name}) in {folder}", file=sys.stderr)
        train(teacher, folder, resume=(folder / "run.json").is_file(), verbose=verbose)


def train(
    config: RunConfig,
    run_dir: Path | None = None,
    *,
    resume: bool = False,
    stop_after_epoch: int | None = None,
    verbose: bool = True,
) -> RunResult:
    """Train ``config.model`` on ``config.data.store`` and write the run directory (see the module docstring).

    ``stop_after_epoch`` ends the call after that epoch's checkpoint as if the process had been killed there
    (for tests of exact resume). Under torchrun every process calls this; only rank 0 writes files.
    """
    config.validate()
    if not config.data.store:
        raise ConfigError("no feature store given; pass --data FEATURES (or set data.store)")
    if config.train.trials > 1 and not resume:
        run_dir = Path(run_dir or default_run_dir(config.model.name))
        config = choose_trial(config, run_dir, verbose)
        resume = True
    if trains_its_teacher(config):
        run_dir = Path(run_dir or default_run_dir(config.model.name))
        if not resume and holds_a_run(run_dir):
            refuse_taken(run_dir)
        train_teacher(config, run_dir, verbose)
    ctx = setup(config.train.device)
    logger: RunLogger | None = None
    session: Session | None = None
    succeeded = False
    try:
        session = prepare(config, run_dir, resume, ctx, verbose)
        logger = RunLogger(session.run_dir, resume_after=session.progress.start_epoch - 1, enabled=ctx.is_main)
        result = session.loop(logger, stop_after_epoch)
        if result.finished and config.train.refine:
            refine_finished(session)
        succeeded = True
        return result
    finally:
        if logger is not None:
            logger.close()
        # DDP sits in a reference cycle that holds the process group, so without this the group outlives
        # destroy_process_group until some later garbage collection (a suspect in one rank's SIGABRT in CI).
        session = None
        teardown(ctx, synchronize=succeeded)
