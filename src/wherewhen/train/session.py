"""One training call in named steps: claim the run folder, plan the splits, build the model, load the data, set up
the optimization, restore a checkpoint; then the epoch loop with its files (``Session.loop``)."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from wherewhen import __version__
from wherewhen.atomic import atomic_write_text
from wherewhen.errors import CheckpointError, ConfigError, FeatureStoreError
from wherewhen.evaluate.truth import has_truth
from wherewhen.features.frame_selection import load_frame_selection
from wherewhen.features.store import FeatureStore, StoreInfo
from wherewhen.memory import pin_mmap_threshold
from wherewhen.models import VideoModel, build_model
from wherewhen.models.inputs import FRAME_MASK
from wherewhen.models.pretrained import save_pretrained
from wherewhen.models.registry import saved_kwargs, with_flow_decided
from wherewhen.train.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from wherewhen.train.config import RunConfig
from wherewhen.train.data import (
    ClipDataset,
    SplitPlan,
    clip_batches,
    clip_count,
    collate,
    plan_splits,
    resolve_frames,
)
from wherewhen.train.distributed import DistContext, barrier, broadcast_object, gather_objects
from wherewhen.train.engine import (
    BestTracker,
    Schedule,
    StepSettings,
    build_optimizer,
    build_schedule,
    current_lr,
    train_epoch,
    unused_parameters,
    validate,
)
from wherewhen.train.logs import RunLogger
from wherewhen.train.refine import refine, too_few_videos
from wherewhen.train.teacher import load_teacher, teacher_folder

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


@dataclass
class Data:
    """The split, the rows per clip, and the datasets and loaders the loop reads."""

    plan: SplitPlan
    frames: int
    train_ds: ClipDataset
    sampler: DistributedSampler
    train_loader: DataLoader
    val_loader: DataLoader | None
    val_labels: torch.Tensor


@dataclass
class Optimization:
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    scaler: torch.amp.GradScaler
    tracker: BestTracker
    settings: StepSettings


@dataclass
class Progress:
    """Where the loop starts: epoch 1, or after the checkpoint of a resumed run."""

    start_epoch: int = 1
    best_state: dict[str, torch.Tensor] | None = None
    rng_state: dict[str, Any] | None = None
    already_done: bool = False
    stopped_early: bool = False


def say(ctx: DistContext, verbose: bool, text: str) -> None:
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


@dataclass
class Session:
    """The state of one training call: built by :func:`prepare`, run by :meth:`loop`."""

    config: RunConfig
    ctx: DistContext
    run_dir: Path
    info: StoreInfo
    module: VideoModel
    model: torch.nn.Module  # ``module`` or its DDP wrapper
    data: Data
    opt: Optimization
    progress: Progress
    verbose: bool

    def run_json(self, epoch: int, finished: bool) -> dict[str, Any]:
        plan, tracker = self.data.plan, self.opt.tracker
        return {
            "format": RUN_FORMAT,
            "wherewhen_version": __version__,
            "store": str(Path(self.config.data.store).resolve()),
            "model": self.module.name,
            "model_args": self.module.build_kwargs,
            "classes": plan.classes,
            "features": asdict(self.info),
            "frames": self.data.frames,
            "splits": {
                "train": [r.video_id for r in plan.train],
                "val": [r.video_id for r in plan.val],
                "test": self.config.data.test_split,
                "val_source": plan.val_source,
            },
            "monitor": self.config.train.monitor if plan.val else "last",
            "best_epoch": tracker.best_epoch,
            "best_metric": tracker.best_metric,
            "epochs_done": epoch,
            "epochs": self.config.train.epochs,
            "finished": finished,
            "stopped_early": self.progress.stopped_early,
            "world_size": self.ctx.world_size,
            "device": self.ctx.device.type,
        }

    def best_model(self) -> VideoModel:
        assert self.progress.best_state is not None
        with torch.random.fork_rng(devices=[]):  # building a model draws initial weights; leave the run's RNG alone
            model = build_model(
                self.module.name,
                num_classes=self.module.num_classes,
                in_channels=self.module.in_channels,
                grid=self.module.grid,
                **self.module.build_kwargs,
            )
        model.load_state_dict(self.progress.best_state)
        return model

    def save_best(self, folder: str = "model") -> None:
        tracker = self.opt.tracker
        extra = {"epoch": tracker.best_epoch, "monitor": self.config.train.monitor, "metric": tracker.best_metric}
        save_pretrained(self.best_model(), self.run_dir / folder, classes=self.data.plan.classes, features=self.info,
                        extra=extra)  # fmt: skip

    def refine_best(self) -> dict[str, Any]:
        """Rank 0, after the last epoch (``train.refine``): the best model refined by its own pseudo labels
        (train/refine.py) becomes model/, the trained one stays in model-trained/, run.json records the choices."""
        plan = self.data.plan
        skipped = too_few_videos([plan.classes.index(r.label) for r in plan.train], len(plan.classes))
        choices = {"skipped": skipped} if skipped is not None else self.refine_into_model_dir()
        run = read_run_json(self.run_dir) | {"refinement": choices}
        atomic_write_text(self.run_dir / "run.json", json.dumps(run, indent=2))
        return choices

    def refine_into_model_dir(self) -> dict[str, Any]:
        """model/ becomes the best model refined, model-trained/ the trained model; the refinement's choices."""
        teacher, plan = self.best_model(), self.data.plan
        store = FeatureStore(self.config.data.store)
        selection = load_selection_for(teacher, self.config.data.frame_selection)

        def batches(records: list[Any]) -> list[dict[str, torch.Tensor]]:
            return clip_batches(store, records, plan.classes, self.data.frames, teacher, self.config.data.batch_size,
                                selection)  # fmt: skip

        refinement = refine(teacher, batches(plan.train), batches(plan.val), seed=self.config.seed)
        self.save_best("model-trained")
        extra = {"refinement": refinement.choices, "trained_model": "model-trained"}
        save_pretrained(refinement.model, self.run_dir / "model", classes=plan.classes, features=self.info, extra=extra)
        return refinement.choices

    def result(self, epoch: int, finished: bool, history: list[dict[str, float]]) -> RunResult:
        return RunResult(
            run_dir=self.run_dir,
            model_dir=self.run_dir / "model",
            best_epoch=self.opt.tracker.best_epoch,
            best_metric=self.opt.tracker.best_metric,
            monitor=self.config.train.monitor if self.data.plan.val else "last",
            epochs_done=epoch,
            finished=finished,
            stopped_early=self.progress.stopped_early,
            history=history,
        )

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch, validate, step a per-epoch schedule; the epoch's metrics."""
        cfg, data, opt = self.config, self.data, self.opt
        start = time.perf_counter()
        data.sampler.set_epoch(epoch)
        data.train_ds.set_epoch(epoch)
        metrics = {"lr": current_lr(opt.optimizer)}
        desc = f"epoch {epoch}/{cfg.train.epochs}"
        metrics |= train_epoch(
            self.model, self.module, data.train_loader, opt.optimizer, opt.schedule, opt.scaler, opt.settings,
            self.ctx, desc=desc,
        )  # fmt: skip
        if data.val_loader is not None:
            metrics |= validate(self.module, data.val_loader, data.val_labels, opt.settings, self.ctx)
        if not opt.schedule.per_step:
            opt.schedule.scheduler.step(metrics.get(cfg.train.monitor.replace("_", "/", 1), metrics["train/loss"]))
        metrics["seconds"] = time.perf_counter() - start
        return metrics

    def save_checkpoint(self, epoch: int, finished: bool, rng_states: list[Any]) -> None:
        """Rank 0: checkpoints/last.pt and run.json after an epoch (its log row is written before them, so a run
        killed in between resumes from the earlier checkpoint and drops that row)."""
        opt = self.opt
        state = {
            "epoch": epoch,
            "finished": finished,
            "stopped_early": self.progress.stopped_early,
            "classes": self.data.plan.classes,
            "model": self.module.state_dict(),
            "optimizer": opt.optimizer.state_dict(),
            "scheduler": opt.schedule.state_dict(),
            "scaler": opt.scaler.state_dict(),
            "tracker": opt.tracker.state_dict(),
            "best_model": self.progress.best_state,
            "rng": rng_states,
            "world_size": self.ctx.world_size,
        }
        save_checkpoint(self.run_dir / "checkpoints" / "last.pt", state)
        atomic_write_text(self.run_dir / "run.json", json.dumps(self.run_json(epoch, finished), indent=2))

    def loop(self, logger: RunLogger, stop_after_epoch: int | None) -> RunResult:
        ctx, progress, tracker = self.ctx, self.progress, self.opt.tracker
        epochs = self.config.train.epochs
        history: list[dict[str, float]] = []
        if progress.already_done:
            say(ctx, self.verbose, f"{self.run_dir}: already finished at epoch {progress.start_epoch - 1}")
            return self.result(progress.start_epoch - 1, True, history)
        if progress.rng_state is not None:
            restore_rng(progress.rng_state)
        epoch = progress.start_epoch - 1
        for epoch in range(progress.start_epoch, epochs + 1):
            metrics = self.run_epoch(epoch)
            improved = tracker.update(epoch, metrics)
            if improved:
                progress.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.module.state_dict().items()}
            progress.stopped_early = tracker.should_stop and epoch < epochs
            finished = progress.stopped_early or epoch == epochs
            rng_states = gather_objects(capture_rng(), ctx)
            history.append(metrics)
            if ctx.is_main:
                if improved:
                    self.save_best()
                logger.log_epoch(epoch, metrics)
                self.save_checkpoint(epoch, finished, rng_states)
            say(ctx, self.verbose, summary(epoch, epochs, metrics, improved))
            barrier(ctx)
            if finished:
                break
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                return self.result(epoch, False, history)
        if progress.stopped_early:
            say(ctx, self.verbose, f"stopped early: no improvement for {self.config.train.patience} epochs")
        best = f" ({self.config.train.monitor} {tracker.best_metric:.4f})" if tracker.best_metric is not None else ""
        say(ctx, self.verbose, f"best epoch {tracker.best_epoch}{best}")
        return self.result(epoch, True, history)


def summary(epoch: int, epochs: int, m: dict[str, float], improved: bool) -> str:
    text = f"epoch {epoch}/{epochs}  train loss {m['train/loss']:.4f} acc {m['train/accuracy']:.3f}"
    if "val/loss" in m:
        text += f" | val loss {m['val/loss']:.4f} acc {m['val/accuracy']:.3f}"
    text += f" | lr {m['lr']:.2e} | {m['seconds']:.1f}s"
    return text + ("  *best" if improved and "val/loss" in m else "")


# ---- the steps of prepare() ------------------------------------------------------------------------------------
def claim_run_dir(
    config: RunConfig, store: FeatureStore, run_dir: Path | None, resume: bool, ctx: DistContext
) -> tuple[Path, dict[str, Any] | None]:
    """The run folder and, when resuming, its run.json (checked against the store); a new run needs a free folder."""
    if resume:
        assert run_dir is not None
        run = read_run_json(Path(run_dir))
        check_resumable(Path(run_dir), run, store, store.info)
        return Path(run_dir), run
    if run_dir is None:
        run_dir = broadcast_object(default_run_dir(config.model.name) if ctx.is_main else None, ctx)
    run_dir = Path(run_dir)
    taken = holds_a_run(run_dir)
    barrier(ctx)  # every process looks before rank 0 writes anything
    if taken:
        refuse_taken(run_dir)
    return run_dir, None


def holds_a_run(run_dir: Path) -> bool:
    return (run_dir / "run.json").exists() or (run_dir / "checkpoints").exists()


def refuse_taken(run_dir: Path) -> NoReturn:
    raise ConfigError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out")


def check_resumable(run_dir: Path, run: dict[str, Any], store: FeatureStore, info: StoreInfo) -> None:
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


def plan_data(config: RunConfig, store: FeatureStore, run: dict[str, Any] | None) -> tuple[SplitPlan, int]:
    """The train / validation videos (fixed by a resumed run) and the rows per clip."""
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
    return plan, frames


def build_module(config: RunConfig, store: FeatureStore, plan: SplitPlan, run: dict[str, Any] | None) -> VideoModel:
    info = store.info
    args = config.model.args
    if run is not None and isinstance(run.get("model_args"), dict):
        # every argument the run was built with, whatever today's defaults
        args = saved_kwargs(config.model.name, run["model_args"]) | args
    args = with_flow_decided(config.model.name, args, info.flow)
    module = build_model(
        config.model.name, num_classes=len(plan.classes), in_channels=info.channels, grid=info.grid, **args
    )
    module.label_smoothing = config.train.label_smoothing
    if module.uses_flow and not info.flow:
        raise ConfigError(f"model {module.name!r} needs flow cubes; {store.root} was extracted without --flow")
    return module


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


def check_cube_shape(store: FeatureStore, dataset: ClipDataset) -> dict[str, Any]:
    """Load one real training clip and check it against store.json before anything trains."""
    info = store.info
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


def load_data(
    config: RunConfig, store: FeatureStore, plan: SplitPlan, frames: int, module: VideoModel, ctx: DistContext,
    teacher: VideoModel | None = None,
) -> Data:  # fmt: skip
    """Datasets and loaders: training items shuffled by a sampler that shards them over processes (with flow where
    the student or its attention teacher reads it), validation clips split among processes (every process gets the
    ground truth's attention statistics of its share)."""
    selection = load_selection_for(module, config.data.frame_selection)
    common = {"flow": module.uses_flow, "selection": selection, "inputs": module.extra_inputs}
    train_flow = module.uses_flow or (teacher is not None and teacher.uses_flow)
    train_ds = ClipDataset(
        store, plan.train, plan.classes, frames, train=True, jitter=config.data.jitter, seed=config.seed,
        **(common | {"flow": train_flow}),
    )  # fmt: skip
    truth = any(has_truth(r) for r in plan.val)
    val_ds = ClipDataset(store, plan.val, plan.classes, frames, train=False, truth=truth, **common)
    loading = {
        "batch_size": config.data.batch_size,
        "num_workers": config.data.num_workers,
        "collate_fn": collate,
        "pin_memory": ctx.device.type == "cuda",
        "worker_init_fn": pin_mmap_threshold,
    }
    sampler = DistributedSampler(train_ds, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(train_ds, sampler=sampler, generator=generator, **loading)
    val_loader = None
    if len(val_ds) > 0:
        val_loader = DataLoader(Subset(val_ds, list(range(ctx.rank, len(val_ds), ctx.world_size))), **loading)
    val_labels = torch.tensor(val_ds.labels, dtype=torch.long)
    return Data(plan, frames, train_ds, sampler, train_loader, val_loader, val_labels)


def wrap_for_processes(module: VideoModel, unused: list[str], ctx: DistContext) -> torch.nn.Module:
    if not ctx.distributed:
        return module
    device = ctx.device
    ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=bool(unused))


def set_up_optimization(
    config: RunConfig, module: VideoModel, data: Data, device: torch.device, teacher: VideoModel | None
) -> Optimization:
    validating = data.val_loader is not None
    optimizer = build_optimizer(module, config.optim)
    schedule = build_schedule(
        optimizer,
        config.schedule,
        steps_per_epoch=len(data.train_loader),
        epochs=config.train.epochs,
        maximize=config.train.monitor == "val_accuracy" and validating,
    )
    amp = config.train.amp and device.type == "cuda"
    train = config.train
    teacher = teacher.to(device) if teacher is not None else None
    settings = StepSettings(device, amp, train.grad_clip, train.progress, config.augment, teacher, train.teacher_weight)
    tracker = BestTracker(train.monitor, train.patience if validating else 0, train.tie_break)
    return Optimization(optimizer, schedule, torch.amp.GradScaler(device.type, enabled=amp), tracker, settings)


def restore_checkpoint(
    run_dir: Path, config: RunConfig, module: VideoModel, opt: Optimization, plan: SplitPlan, ctx: DistContext,
    verbose: bool,
) -> Progress:  # fmt: skip
    """Model, optimizer, schedule, scaler, early stopping and this process's random state from checkpoints/last.pt."""
    path = run_dir / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path, map_location=ctx.device)
    if list(ckpt.get("classes", [])) != plan.classes:
        raise CheckpointError(path, "class list differs from the run's run.json; the run directory is mixed up")
    try:
        module.load_state_dict(ckpt["model"])
        opt.optimizer.load_state_dict(ckpt["optimizer"])
        opt.schedule.load_state_dict(ckpt["scheduler"])
        opt.scaler.load_state_dict(ckpt["scaler"])
        opt.tracker.load_state_dict(ckpt["tracker"])
    except (KeyError, RuntimeError, ValueError) as exc:
        problem = str(exc).strip().splitlines()[0][:200]
        raise CheckpointError(path, f"does not fit the configured model and optimizer ({problem})") from None
    start_epoch = int(ckpt["epoch"]) + 1
    stopped_early = bool(ckpt.get("stopped_early", False))
    if int(ckpt.get("world_size", 1)) != ctx.world_size:
        say(ctx, verbose, f"resuming {ckpt.get('world_size')} processes' run on {ctx.world_size}: not bit-exact")
    rngs = ckpt["rng"]
    rng_state = rngs[ctx.rank] if ctx.rank < len(rngs) else None
    if rng_state is None:
        torch.manual_seed(config.seed + ctx.rank + start_epoch)
    already_done = stopped_early or start_epoch > config.train.epochs
    return Progress(start_epoch, ckpt["best_model"], rng_state, already_done, stopped_early)


def prepare(config: RunConfig, run_dir: Path | None, resume: bool, ctx: DistContext, verbose: bool) -> Session:
    store = FeatureStore(config.data.store)
    run_dir, run = claim_run_dir(config, store, run_dir, resume, ctx)
    plan, frames = plan_data(config, store, run)
    seed_everything(config.seed)
    module = build_module(config, store, plan, run)
    teaching = config.train.attention_teacher
    teacher = load_teacher(teacher_folder(config, run_dir), module, store.info.flow) if teaching else None
    data = load_data(config, store, plan, frames, module, ctx, teacher)
    cap_epochs(config, len(data.train_loader), ctx, verbose)
    first = check_cube_shape(store, data.train_ds)
    module.to(ctx.device)
    unused = unused_parameters(module, collate([first]), ctx.device)
    # Different seeds per process for dropout and the like; the weights start equal (DDP broadcasts rank 0's).
    torch.manual_seed(config.seed + ctx.rank)
    model = wrap_for_processes(module, unused, ctx)
    opt = set_up_optimization(config, module, data, ctx.device, teacher)
    progress = restore_checkpoint(run_dir, config, module, opt, plan, ctx, verbose) if resume else Progress()
    session = Session(config, ctx, run_dir, store.info, module, model, data, opt, progress, verbose)
    start_files(session, resume)
    where = f"{ctx.world_size} processes on {ctx.device.type}" if ctx.distributed else str(ctx.device)
    say(
        ctx,
        verbose,
        f"{'resuming' if resume else 'training'} {module.name}{' on RGB and flow' if module.uses_flow else ''} in "
        f"{run_dir}: {len(plan.train)} training videos, "
        f"{len(plan.val)} validation videos ({plan.val_source}, {clip_count(plan.val)} clips), "
        f"{len(plan.classes)} classes, T={frames}, {where}"
        + (f", from epoch {progress.start_epoch}" if resume else ""),
    )
    if unused:
        say(ctx, verbose, f"parameters without gradient (DDP will look for them): {', '.join(unused[:5])}")
    return session


def cap_epochs(config: RunConfig, batches_per_epoch: int, ctx: DistContext, verbose: bool) -> None:
    """Apply ``train.max_steps``: the run (and its schedule) stops after the epoch that reaches that many optimizer
    steps, if that comes before ``train.epochs``; config.yaml and run.json then record the capped epochs."""
    steps = config.train.max_steps
    if steps and config.train.epochs * batches_per_epoch > steps:
        capped = math.ceil(steps / batches_per_epoch)
        epochs = config.train.epochs
        say(ctx, verbose, f"train.max_steps={steps}: {capped} epochs of {batches_per_epoch} steps instead of {epochs}")
        config.train.epochs = capped


def start_files(session: Session, resume: bool) -> None:
    """Rank 0 writes config.yaml, and run.json for a new run, or the best model of a resumed one."""
    if session.ctx.is_main:
        session.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(session.run_dir / "config.yaml", session.config.to_yaml())
        if resume and session.progress.best_state is not None:
            session.save_best()  # the model directory always matches the checkpoint's best epoch
        if not resume:
            atomic_write_text(session.run_dir / "run.json", json.dumps(session.run_json(0, False), indent=2))
    barrier(session.ctx)
