"""``train(config) -> RunResult``: everything from a feature store to a run directory, resumable exactly.

A run directory holds::

    config.yaml              the resolved configuration
    run.json                 store, model, classes, the train / val video ids, the test split's name, best epoch
    model/                   the best model so far (save_pretrained: config.json, model.safetensors, classes.txt)
    checkpoints/last.pt      everything needed to continue after the last finished epoch (+ last.json)
    logs/                    TensorBoard events
    metrics.csv              one row per epoch: each loss term, accuracies, learning rate, seconds

Resuming (``resume_run``) restores model, optimizer, scheduler, gradient scaler, random generators, early-stopping
state and the exact train / validation videos, so the finished weights equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from wherewhen.datasets.frame_selection import load_frame_selection
from wherewhen.errors import CheckpointError, ConfigError, FeatureStoreError
from wherewhen.evaluate.truth import has_truth
from wherewhen.features.store import FeatureStore, StoreInfo, atomic_write_text, remove_stale_temporaries
from wherewhen.memory import pin_mmap_threshold
from wherewhen.models import VideoModel, build_model
from wherewhen.models.inputs import FRAME_MASK
from wherewhen.train.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from wherewhen.train.config import RunConfig, load_config
from wherewhen.train.data import ClipDataset, SplitPlan, clip_count, collate, plan_splits, resolve_frames
from wherewhen.train.distributed import DistContext, barrier, broadcast_object, gather_objects, setup, teardown
from wherewhen.train.engine import (
    BestTracker,
    StepSettings,
    build_optimizer,
    build_schedule,
    current_lr,
    train_epoch,
    unused_parameters,
    validate,
)
from wherewhen.train.logs import RunLogger
from wherewhen.train.pretrained import save_pretrained

RUN_FORMAT = "wherewhen-run/1"


@dataclass
class RunResult:
    run_dir: Path
    model_dir: Path
    best_epoch: int
    best_metric: float | None  # the monitored validation metric at the best epoch (None without validation)
    monitor: str
    epochs_done: int  # last finished epoch
    finished: bool  # False when stopped by ``stop_after_epoch`` (or killed) before the last epoch
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)  # the epochs run by this call


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
    ctx = setup(config.train.device)
    logger: RunLogger | None = None
    session: _Session | None = None
    succeeded = False
    try:
        session = _prepare(config, run_dir, resume, ctx, verbose)
        logger = RunLogger(session.run_dir, resume_after=session.start_epoch - 1, enabled=ctx.is_main)
        result = session.loop(logger, stop_after_epoch)
        succeeded = True
        return result
    finally:
        if logger is not None:
            logger.close()
        # DDP sits in a reference cycle that holds the process group, so without this the group outlives
        # destroy_process_group until some later garbage collection (a suspect in one rank's SIGABRT in CI).
        session = None
        teardown(ctx, synchronize=succeeded)


def _say(ctx: DistContext, verbose: bool, text: str) -> None:
    if verbose and ctx.is_main:
        tqdm.write(text, file=sys.stderr)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_run_dir(model: str) -> Path:
    base = Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise CheckpointError(path, "missing; not a wherewhen run directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise CheckpointError(path, f"not a {RUN_FORMAT} file")
    return data


def _check_resumable(run_dir: Path, run: dict[str, Any], store: FeatureStore, info: StoreInfo) -> None:
    if list(run.get("classes", [])) != list(info.classes):
        raise FeatureStoreError(
            store.info_path,
            f"classes ({', '.join(info.classes)}) differ from those of the run in {run_dir} "
            f"({', '.join(run.get('classes', []))}); resume with the store it was trained on",
        )
    try:
        trained_on = StoreInfo.from_dict(run["features"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(run_dir / "run.json", f"bad features entry ({exc})") from None
    diff = trained_on.compatible_with(info)
    if diff:
        raise FeatureStoreError(
            store.info_path,
            f"cubes differ from the run's in {', '.join(diff)}; resume with the store it was trained on",
        )


def _check_cube_shape(store: FeatureStore, info: StoreInfo, dataset: ClipDataset) -> dict[str, Any]:
    """Load one real training clip and check it against store.json before anything trains."""
    item = dataset[0]
    expected = (info.channels, info.grid, info.grid)
    for key in dataset.keys:
        shape = tuple(item[key].shape[1:])
        if shape != expected:
            video = dataset.records[0].video_id
            raise FeatureStoreError(
                store.path_for(video),
                f"{key} cubes are (T, {', '.join(map(str, shape))}) but store.json promises "
                f"(T, {info.channels}, {info.grid}, {info.grid}); re-extract this store",
            )
    return item


@dataclass
class _Session:
    """The state of one training call: built by :func:`_prepare`, run by :meth:`loop`."""

    config: RunConfig
    ctx: DistContext
    run_dir: Path
    store: FeatureStore
    info: StoreInfo
    plan: SplitPlan
    frames: int
    module: VideoModel
    model: torch.nn.Module
    train_ds: ClipDataset
    sampler: DistributedSampler
    train_loader: DataLoader
    val_loader: DataLoader | None
    val_labels: torch.Tensor
    optimizer: torch.optim.Optimizer
    schedule: Any
    scaler: torch.amp.GradScaler
    tracker: BestTracker
    settings: StepSettings
    start_epoch: int
    best_state: dict[str, torch.Tensor] | None
    rng_state: dict[str, Any] | None
    verbose: bool
    already_done: bool
    stopped_early: bool

    # ---- files ------------------------------------------------------------------------------------------
    def run_json(self, epoch: int, finished: bool) -> dict[str, Any]:
        from wherewhen import __version__

        return {
            "format": RUN_FORMAT,
            "wherewhen_version": __version__,
            "store": str(Path(self.config.data.store).resolve()),
            "model": self.module.name,
            "model_args": self.module.build_kwargs,
            "classes": self.plan.classes,
            "features": asdict(self.info),
            "frames": self.frames,
            "splits": {
                "train": [r.video_id for r in self.plan.train],
                "val": [r.video_id for r in self.plan.val],
                "test": self.config.data.test_split,
                "val_source": self.plan.val_source,
            },
            "monitor": self.config.train.monitor if self.plan.val else "last",
            "best_epoch": self.tracker.best_epoch,
            "best_metric": self.tracker.best_metric,
            "epochs_done": epoch,
            "epochs": self.config.train.epochs,
            "finished": finished,
            "stopped_early": self.stopped_early,
            "world_size": self.ctx.world_size,
            "device": self.ctx.device.type,
        }

    def save_best(self) -> None:
        assert self.best_state is not None
        with torch.random.fork_rng(devices=[]):  # building a model draws initial weights; leave the run's RNG alone
            model = build_model(
                self.module.name,
                num_classes=self.module.num_classes,
                in_channels=self.module.in_channels,
                grid=self.module.grid,
                **self.module.build_kwargs,
            )
        model.load_state_dict(self.best_state)
        extra = {
            "epoch": self.tracker.best_epoch,
            "monitor": self.config.train.monitor,
            "metric": self.tracker.best_metric,
        }
        save_pretrained(model, self.run_dir / "model", classes=self.plan.classes, features=self.info, extra=extra)

    def result(self, epoch: int, finished: bool, history: list[dict[str, float]]) -> RunResult:
        return RunResult(
            run_dir=self.run_dir,
            model_dir=self.run_dir / "model",
            best_epoch=self.tracker.best_epoch,
            best_metric=self.tracker.best_metric,
            monitor=self.config.train.monitor if self.plan.val else "last",
            epochs_done=epoch,
            finished=finished,
            stopped_early=self.stopped_early,
            history=history,
        )

    # ---- the loop --------------------------------------------------------------------------------------
    def loop(self, logger: RunLogger, stop_after_epoch: int | None) -> RunResult:
        cfg, ctx = self.config, self.ctx
        epochs = cfg.train.epochs
        history: list[dict[str, float]] = []
        if self.already_done:
            _say(ctx, self.verbose, f"{self.run_dir}: already finished at epoch {self.start_epoch - 1}")
            return self.result(self.start_epoch - 1, True, history)
        if self.rng_state is not None:
            restore_rng(self.rng_state)
        epoch = self.start_epoch - 1
        for epoch in range(self.start_epoch, epochs + 1):
            start = time.perf_counter()
            self.sampler.set_epoch(epoch)
            self.train_ds.set_epoch(epoch)
            metrics = {"lr": current_lr(self.optimizer)}
            metrics |= train_epoch(
                self.model,
                self.module,
                self.train_loader,
                self.optimizer,
                self.schedule,
                self.scaler,
                self.settings,
                ctx,
                desc=f"epoch {epoch}/{epochs}",
            )
            if self.val_loader is not None:
                metrics |= validate(self.module, self.val_loader, self.val_labels, self.settings, ctx)
            if not self.schedule.per_step:
                watched = metrics.get(cfg.train.monitor.replace("_", "/", 1), metrics["train/loss"])
                self.schedule.scheduler.step(watched)
            improved = self.tracker.update(epoch, metrics)
            if improved:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.module.state_dict().items()}
            self.stopped_early = self.tracker.should_stop and epoch < epochs
            finished = self.stopped_early or epoch == epochs
            rng_states = gather_objects(capture_rng(), ctx)
            metrics["seconds"] = time.perf_counter() - start
            history.append(metrics)
            if ctx.is_main:
                if improved:
                    self.save_best()
                logger.log_epoch(epoch, metrics)
                save_checkpoint(
                    self.run_dir / "checkpoints" / "last.pt",
                    {
                        "epoch": epoch,
                        "finished": finished,
                        "stopped_early": self.stopped_early,
                        "classes": self.plan.classes,
                        "model": self.module.state_dict(),
                        "optimizer": self.optimizer.state_dict(),
                        "scheduler": self.schedule.state_dict(),
                        "scaler": self.scaler.state_dict(),
                        "tracker": self.tracker.state_dict(),
                        "best_model": self.best_state,
                        "rng": rng_states,
                        "world_size": ctx.world_size,
                    },
                )
                atomic_write_text(self.run_dir / "run.json", json.dumps(self.run_json(epoch, finished), indent=2))
            _say(ctx, self.verbose, _summary(epoch, epochs, metrics, improved))
            barrier(ctx)
            if finished:
                break
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                return self.result(epoch, False, history)
        if self.stopped_early:
            _say(ctx, self.verbose, f"stopped early: no improvement for {cfg.train.patience} epochs")
        _say(
            ctx,
            self.verbose,
            f"best epoch {self.tracker.best_epoch}"
            + (
                f" ({cfg.train.monitor} {self.tracker.best_metric:.4f})" if self.tracker.best_metric is not None else ""
            ),
        )
        return self.result(epoch, True, history)


def _summary(epoch: int, epochs: int, m: dict[str, float], improved: bool) -> str:
    text = f"epoch {epoch}/{epochs}  train loss {m['train/loss']:.4f} acc {m['train/accuracy']:.3f}"
    if "val/loss" in m:
        text += f" | val loss {m['val/loss']:.4f} acc {m['val/accuracy']:.3f}"
    text += f" | lr {m['lr']:.2e} | {m['seconds']:.1f}s"
    return text + ("  *best" if improved and "val/loss" in m else "")


def _prepare(config: RunConfig, run_dir: Path | None, resume: bool, ctx: DistContext, verbose: bool) -> _Session:
    store = FeatureStore(config.data.store)
    info = store.info
    run: dict[str, Any] | None = None
    if resume:
        assert run_dir is not None
        run_dir = Path(run_dir)
        run = read_run_json(run_dir)
        _check_resumable(run_dir, run, store, info)
    else:
        if run_dir is None:
            run_dir = broadcast_object(default_run_dir(config.model.name) if ctx.is_main else None, ctx)
        run_dir = Path(run_dir)
        taken = (run_dir / "run.json").exists() or (run_dir / "checkpoints").exists()
        barrier(ctx)  # every process looks before rank 0 writes anything
        if taken:
            raise ConfigError(
                f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out"
            )

    plan = plan_splits(
        store,
        train_split=config.data.train_split,
        val_split=config.data.val_split,
        val_fraction=config.data.val_fraction,
        seed=config.seed,
        fixed=run["splits"] if run is not None else None,
    )
    if not plan.train:
        raise FeatureStoreError(store.root, "no training videos left after carving the validation split")
    frames = config.data.frames or (int(run["frames"]) if run is not None else resolve_frames(0, plan.train))

    seed_everything(config.seed)
    args = config.model.args
    if run is not None and isinstance(run.get("model_args"), dict):
        args = run["model_args"] | args  # every argument the run was built with, whatever today's defaults
    module = build_model(
        config.model.name, num_classes=len(plan.classes), in_channels=info.channels, grid=info.grid, **args
    )
    module.label_smoothing = config.train.label_smoothing
    if module.uses_flow and not info.flow:
        raise ConfigError(f"model {module.name!r} needs flow cubes; {store.root} was extracted without --flow")
    selection = load_selection_for(module, config.data.frame_selection)
    device = ctx.device
    train_ds = ClipDataset(
        store,
        plan.train,
        plan.classes,
        frames,
        train=True,
        jitter=config.data.jitter,
        seed=config.seed,
        flow=module.uses_flow,
        selection=selection,
        inputs=module.extra_inputs,
    )
    val_ds = ClipDataset(
        store,
        plan.val,
        plan.classes,
        frames,
        train=False,
        flow=module.uses_flow,
        selection=selection,
        inputs=module.extra_inputs,
        truth=any(has_truth(r) for r in plan.val),
    )
    first = _check_cube_shape(store, info, train_ds)
    module.to(device)
    unused = unused_parameters(module, collate([first]), device)
    # Different seeds per process for dropout and the like; the weights start equal (DDP broadcasts rank 0's).
    torch.manual_seed(config.seed + ctx.rank)

    model: torch.nn.Module = module
    if ctx.distributed:
        model = DistributedDataParallel(
            module, device_ids=[device] if device.type == "cuda" else None, find_unused_parameters=bool(unused)
        )
    pin = device.type == "cuda"
    sampler = DistributedSampler(train_ds, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed)
    workers = config.data.num_workers
    train_loader = DataLoader(
        train_ds,
        batch_size=config.data.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin,
        generator=torch.Generator().manual_seed(config.seed),
        worker_init_fn=pin_mmap_threshold,
    )
    val_loader = None
    if len(val_ds) > 0:
        shard = Subset(val_ds, list(range(ctx.rank, len(val_ds), ctx.world_size)))
        val_loader = DataLoader(
            shard,
            batch_size=config.data.batch_size,
            num_workers=workers,
            collate_fn=collate,
            pin_memory=pin,
            worker_init_fn=pin_mmap_threshold,
        )
    val_labels = torch.tensor(val_ds.labels, dtype=torch.long)

    optimizer = build_optimizer(module, config.optim)
    monitor_max = config.train.monitor == "val_accuracy" and len(val_ds) > 0
    schedule = build_schedule(
        optimizer, config.schedule, steps_per_epoch=len(train_loader), epochs=config.train.epochs, maximize=monitor_max
    )
    amp = config.train.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    tracker = BestTracker(config.train.monitor, config.train.patience if len(val_ds) > 0 else 0)
    settings = StepSettings(
        device=device,
        amp=amp,
        grad_clip=config.train.grad_clip,
        progress=config.train.progress,
        augment=config.augment,
    )

    start_epoch, best_state, rng_state, already_done, stopped_early = 1, None, None, False, False
    if resume:
        ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt", map_location=device)
        ckpt_path = run_dir / "checkpoints" / "last.pt"
        if list(ckpt.get("classes", [])) != plan.classes:
            raise CheckpointError(
                ckpt_path, "class list differs from the run's run.json; the run directory is mixed up"
            )
        try:
            module.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            schedule.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            tracker.load_state_dict(ckpt["tracker"])
        except (KeyError, RuntimeError, ValueError) as exc:
            problem = str(exc).strip().splitlines()[0][:200]
            raise CheckpointError(ckpt_path, f"does not fit the configured model and optimizer ({problem})") from None
        best_state = ckpt["best_model"]
        start_epoch = int(ckpt["epoch"]) + 1
        stopped_early = bool(ckpt.get("stopped_early", False))
        already_done = stopped_early or start_epoch > config.train.epochs
        rngs = ckpt["rng"]
        if int(ckpt.get("world_size", 1)) != ctx.world_size:
            _say(ctx, verbose, f"resuming {ckpt.get('world_size')} processes' run on {ctx.world_size}: not bit-exact")
        rng_state = rngs[ctx.rank] if ctx.rank < len(rngs) else None
        if rng_state is None:
            torch.manual_seed(config.seed + ctx.rank + start_epoch)

    session = _Session(
        config=config,
        ctx=ctx,
        run_dir=run_dir,
        store=store,
        info=info,
        plan=plan,
        frames=frames,
        module=module,
        model=model,
        train_ds=train_ds,
        sampler=sampler,
        train_loader=train_loader,
        val_loader=val_loader,
        val_labels=val_labels,
        optimizer=optimizer,
        schedule=schedule,
        scaler=scaler,
        tracker=tracker,
        settings=settings,
        start_epoch=start_epoch,
        best_state=best_state,
        rng_state=rng_state,
        verbose=verbose,
        already_done=already_done,
        stopped_early=stopped_early,
    )
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", config.to_yaml())
        if resume and best_state is not None:
            session.save_best()  # the model directory always matches the checkpoint's best epoch
        if not resume:
            atomic_write_text(run_dir / "run.json", json.dumps(session.run_json(0, False), indent=2))
    barrier(ctx)
    where = f"{ctx.world_size} processes on {device.type}" if ctx.distributed else str(device)
    _say(
        ctx,
        verbose,
        f"{'resuming' if resume else 'training'} {module.name} in {run_dir}: {len(plan.train)} training videos, "
        f"{len(plan.val)} validation videos ({plan.val_source}, {clip_count(plan.val)} clips), "
        f"{len(plan.classes)} classes, T={frames}, {where}" + (f", from epoch {start_epoch}" if resume else ""),
    )
    if unused:
        _say(ctx, verbose, f"parameters without gradient (DDP will look for them): {', '.join(unused[:5])}")
    return session


def load_selection_for(module: VideoModel, path: str) -> dict[str, list[int]] | None:
    """The frame selection file of a model that declares the ``frame_mask`` input (``models.inputs``), which needs
    one; None for the others, which refuse one."""
    takes = FRAME_MASK in module.extra_inputs
    if not path:
        if takes:
            raise ConfigError(f"model {module.name!r} takes a frame selection: set data.frame_selection=FILE.json")
        return None
    if not takes:
        raise ConfigError(f"model {module.name!r} takes no frame selection; remove data.frame_selection")
    return load_frame_selection(path)
