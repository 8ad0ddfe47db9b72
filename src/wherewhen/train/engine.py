"""The training loop's parts: optimizer, learning-rate schedule, one training epoch, validation, best-epoch choice.

Loss of a batch: L = sum of ``model.loss_terms(output, targets)`` = cross-entropy + the model's weighted
regularizers. Each term is averaged over the epoch's clips and logged separately. Validation follows the
video-level protocol: the class probabilities of a video's clips are averaged, then compared with its label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from wherewhen.errors import ConfigError
from wherewhen.evaluate.attention_stats import NAMES as ATTENTION_STATS
from wherewhen.evaluate.attention_stats import attention_means, attention_sums
from wherewhen.models import VideoModel
from wherewhen.progress import progress_bar
from wherewhen.train.augment import AugmentSection, augment_batch
from wherewhen.train.config import OptimSection, ScheduleSection
from wherewhen.train.distributed import DistContext, all_reduce_sum, gather_objects
from wherewhen.train.teacher import teacher_loss, teacher_positives


def build_optimizer(model: nn.Module, cfg: OptimSection) -> torch.optim.Optimizer:
    """Weight decay on weight matrices and kernels (dim >= 2) only; biases, norms and scalars get none."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        g
        for g in ({"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0})
        if g["params"]
    ]
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]))
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, momentum=cfg.momentum)
    raise ConfigError(f"optim.name must be one of adamw, sgd, rmsprop; got {cfg.name!r}")


@dataclass
class Schedule:
    """A learning-rate scheduler and when it steps: after every optimizer step, or once per epoch on a metric."""

    scheduler: Any
    per_step: bool

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore after the optimizer: per-step schedules then set the next step's learning rate from their own
        curve, which may be longer than the saved run's (``--resume`` with more epochs); the optimizer's saved rate
        is where the old curve ended (0 at the end of a cosine). Unchanged curves give the saved rate exactly."""
        self.scheduler.load_state_dict(state)
        if self.per_step:
            scheduler = self.scheduler
            lrs = [
                base * fn(scheduler.last_epoch)
                for base, fn in zip(scheduler.base_lrs, scheduler.lr_lambdas, strict=True)
            ]
            for group, lr in zip(scheduler.optimizer.param_groups, lrs, strict=True):
                group["lr"] = lr
            scheduler._last_lr = lrs


def lr_factor(step: int, *, cfg: ScheduleSection, steps_per_epoch: int, epochs: int, base_lr: float) -> float:
    """Multiplier of the base learning rate after ``step`` optimizer steps.

    Linear warm-up over W steps: (step + 1) / W. Then constant; step: gamma^floor(epoch / step_epochs);
    cosine: m + (1 - m) (1 + cos(pi s / S)) / 2 with m = min_lr / lr, s the steps since warm-up and S their total.
    """
    warm = round(cfg.warmup_epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    if cfg.name == "constant":
        return 1.0
    if cfg.name == "step":
        return cfg.gamma ** ((step // steps_per_epoch) // cfg.step_epochs)
    total = max(1, epochs * steps_per_epoch - warm)
    progress = min(1.0, (step - warm) / total)
    floor = min(1.0, cfg.min_lr / base_lr)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: ScheduleSection, *, steps_per_epoch: int, epochs: int, maximize: bool
) -> Schedule:
    if cfg.name == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max" if maximize else "min", factor=cfg.gamma, patience=cfg.patience
        )
        return Schedule(scheduler, per_step=False)
    base_lr = optimizer.param_groups[0]["lr"]

    def factor(step: int) -> float:
        return lr_factor(step, cfg=cfg, steps_per_epoch=steps_per_epoch, epochs=epochs, base_lr=base_lr)

    return Schedule(torch.optim.lr_scheduler.LambdaLR(optimizer, factor), per_step=True)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


@dataclass
class StepSettings:
    device: torch.device
    amp: bool  # float16 autocast with gradient scaling (CUDA only)
    grad_clip: float
    progress: bool
    augment: AugmentSection = field(default_factory=AugmentSection)
    teacher: VideoModel | None = None  # train.attention_teacher, frozen (train/teacher.py)
    teacher_weight: float = 1.0


def to_device(
    batch: dict[str, Tensor], device: torch.device, extra: tuple[str, ...] = ()
) -> tuple[dict[str, Tensor], Tensor]:
    """The model's keyword inputs and the targets, on the device: the cubes, flow when the batch has it, and the
    ``extra`` inputs the model declares (``VideoModel.extra_inputs``). The cubes stay float16: the models cast them
    (with the reduction's transpose, in one copy: ``models._reduce.as_rows``)."""
    inputs = {"cubes": batch["rgb"].to(device, non_blocking=True)}
    if "flow" in batch:
        inputs["flow"] = batch["flow"].to(device, non_blocking=True)
    for name in extra:
        if name not in batch:
            raise ConfigError(f"the model takes {name!r} but the data gives none (see wherewhen.models.inputs)")
        inputs[name] = batch[name].to(device, non_blocking=True)
    return inputs, batch["label"].to(device, non_blocking=True)


@dataclass
class EpochTotals:
    """Sums over an epoch's clips, reduced over processes, turned into means by :meth:`means`."""

    terms: dict[str, Tensor] = field(default_factory=dict)
    correct: Tensor | None = None
    count: Tensor | None = None

    def add(self, terms: dict[str, Tensor], logits: Tensor, targets: Tensor) -> None:
        n = targets.shape[0]
        loss = sum(terms.values())
        for name, value in {"loss": loss, **terms}.items():
            value = value.detach().float() * n
            self.terms[name] = self.terms[name] + value if name in self.terms else value
        labels = targets.argmax(-1) if targets.is_floating_point() else targets  # mixed clips: the larger share
        correct = (logits.detach().argmax(-1) == labels).sum()
        self.correct = correct if self.correct is None else self.correct + correct
        self.count = torch.tensor(n, device=targets.device) if self.count is None else self.count + n

    def means(self, ctx: DistContext, prefix: str, device: torch.device) -> dict[str, float]:
        # A process may have seen no clips (a tiny validation set), so agree on the term names first.
        names = sorted(set().union(*gather_objects(sorted(self.terms), ctx)))
        zero = torch.zeros((), device=device)
        values = [self.terms.get(k, zero) for k in names]
        values += [zero if self.correct is None else self.correct, zero if self.count is None else self.count]
        flat = all_reduce_sum(torch.stack([v.double() for v in values]), ctx)
        count = max(float(flat[-1]), 1.0)
        out = {f"{prefix}/{k}": float(flat[i]) / count for i, k in enumerate(names)}
        out[f"{prefix}/clip_accuracy" if prefix == "val" else f"{prefix}/accuracy"] = float(flat[-2]) / count
        return out


def _bar(iterable: Iterable[Any], *, enabled: bool, desc: str, total: int) -> Any:
    # Only on a terminal: a log gets the per-epoch lines instead.
    return progress_bar(
        iterable, desc=desc, total=total, leave=False, dynamic_ncols=True, show=enabled, terminal_only=True
    )


def own_inputs(module: VideoModel, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
    """The model's own inputs: a training batch has flow for a model that reads RGB only when its attention teacher
    reads flow (train/teacher.py)."""
    return inputs if module.uses_flow else {k: v for k, v in inputs.items() if k != "flow"}


def train_epoch(
    model: nn.Module,
    module: VideoModel,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    scaler: torch.amp.GradScaler,
    settings: StepSettings,
    ctx: DistContext,
    *,
    desc: str,
) -> dict[str, float]:
    """One pass over the training loader; ``model`` may be the DDP wrapper of ``module``."""
    model.train()
    totals = EpochTotals()
    params = [p for p in module.parameters() if p.requires_grad]
    bar = _bar(loader, enabled=settings.progress and ctx.is_main, desc=desc, total=len(loader))
    for step, batch in enumerate(bar):
        inputs, targets = to_device(batch, settings.device, module.extra_inputs)
        inputs, targets = augment_batch(inputs, targets, module.num_classes, settings.augment)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=settings.device.type, dtype=torch.float16, enabled=settings.amp):
            output = model(**own_inputs(module, inputs))
            terms = module.loss_terms(output, targets)
            if settings.teacher is not None:
                positives = teacher_positives(settings.teacher, inputs["cubes"], inputs.get("flow"))
                terms["teacher"] = teacher_loss(output, positives, settings.teacher_weight)
        loss = sum(terms.values())
        scaler.scale(loss).backward()
        if settings.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        if schedule.per_step:
            schedule.scheduler.step()
        totals.add(terms, output.logits, targets)
        if step % 10 == 0 and not getattr(bar, "disable", True):
            bar.set_postfix(loss=f"{float(loss):.4f}", lr=f"{current_lr(optimizer):.2e}")
    means = totals.means(ctx, "train", settings.device)
    if not math.isfinite(means["train/loss"]):
        raise ConfigError(f"the training loss became {means['train/loss']} in {desc}; try a lower optim.lr")
    return means


@torch.no_grad()
def validate(
    module: VideoModel,
    loader: DataLoader,
    labels: Tensor,
    settings: StepSettings,
    ctx: DistContext,
) -> dict[str, float]:
    """Clip-level loss terms and accuracy, video-level accuracy from clip probabilities averaged per video, and,
    where the clips carry ground truth, where the attention sits (``evaluate.attention_stats``: ``val/attention_*``).

    Each process sees its share of the clips; sums are reduced over processes.
    """
    module.eval()
    totals = EpochTotals()
    num_videos, num_classes = labels.shape[0], module.num_classes
    prob_sum = torch.zeros(num_videos, num_classes, dtype=torch.float64, device=settings.device)
    clip_count = torch.zeros(num_videos, dtype=torch.float64, device=settings.device)
    attention = torch.zeros(2 * len(ATTENTION_STATS), dtype=torch.float64, device=settings.device)
    for batch in _bar(loader, enabled=settings.progress and ctx.is_main, desc="validate", total=len(loader)):
        inputs, targets = to_device(batch, settings.device, module.extra_inputs)
        with torch.autocast(device_type=settings.device.type, dtype=torch.float16, enabled=settings.amp):
            output = module(**inputs)
            terms = module.loss_terms(output, targets)
        totals.add(terms, output.logits, targets)
        video = batch["video"].to(settings.device)
        prob_sum.index_add_(0, video, output.logits.float().softmax(-1).double())
        clip_count.index_add_(0, video, torch.ones_like(video, dtype=torch.float64))
        if "box_cells" in batch:
            truth = batch["box_cells"].to(settings.device), batch["segment"].to(settings.device)
            attention += attention_sums(output.spatial, output.temporal, *truth)
    all_reduce_sum(prob_sum, ctx)
    all_reduce_sum(attention, ctx)
    all_reduce_sum(clip_count, ctx)
    means = totals.means(ctx, "val", settings.device)
    seen = clip_count > 0
    predicted = prob_sum.argmax(-1).cpu()
    means["val/accuracy"] = float((predicted == labels.cpu())[seen.cpu()].double().mean())
    means |= {f"val/attention_{k}": v for k, v in attention_means(attention.cpu()).items()}
    return means


class BestTracker:
    """Best epoch by the monitored metric, and how many epochs passed without improving it.

    ``val_accuracy`` breaks ties by lower validation loss (small validation sets tie often), or with
    ``tie_break="earliest"`` keeps the first epoch that reached it (a saturated accuracy then stops training instead
    of following an ever more confident model); ``val_loss`` is minimized. Without validation the last epoch is the
    best one.
    """

    def __init__(self, monitor: str, patience: int, tie_break: str = "val_loss") -> None:
        self.monitor = monitor
        self.patience = patience
        self.tie_break = tie_break
        self.best_epoch = 0
        self.best_key: list[float] | None = None
        self.best_metric: float | None = None
        self.bad_epochs = 0

    def key(self, metrics: dict[str, float]) -> list[float] | None:
        if "val/loss" not in metrics:
            return None
        if self.monitor == "val_accuracy":
            tie = [] if self.tie_break == "earliest" else [-metrics["val/loss"]]
            return [metrics["val/accuracy"], *tie]
        return [-metrics["val/loss"]]

    def update(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Record an epoch; True when it is the new best."""
        key = self.key(metrics)
        if key is None or self.best_key is None or key > self.best_key:
            self.best_epoch, self.best_key, self.bad_epochs = epoch, key, 0
            self.best_metric = None if key is None else metrics[self.monitor.replace("_", "/", 1)]
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "best_key": self.best_key,
            "best_metric": self.best_metric,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_epoch = int(state["best_epoch"])
        self.best_key = state["best_key"]
        self.best_metric = state["best_metric"]
        self.bad_epochs = int(state["bad_epochs"])


def unused_parameters(module: VideoModel, batch: dict[str, Tensor], device: torch.device) -> list[str]:
    """Check a real batch fits the model (one-line ConfigError if not) and name parameters that get no gradient.

    Runs one forward and backward pass in training mode and then restores weights, buffers, gradients and the
    random generators, so the check changes nothing about the run.
    """
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    was_training = module.training
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            module.train()
            inputs, targets = to_device(batch, device, module.extra_inputs)
            output = module(**own_inputs(module, inputs))
            _check_output(module, output, inputs["cubes"])
            loss = sum(module.loss_terms(output, targets).values())
            loss.backward()
        return [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    finally:
        module.zero_grad(set_to_none=True)
        module.load_state_dict(state)
        module.train(was_training)


def _check_output(module: VideoModel, output: Any, cubes: Tensor) -> None:
    b = cubes.shape[0]
    if output.logits.shape != (b, module.num_classes):
        raise ConfigError(
            f"{module.name}: logits have shape {tuple(output.logits.shape)}, expected ({b}, {module.num_classes})"
        )
