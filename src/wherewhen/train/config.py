"""Training configuration: dataclass defaults, a YAML file on top, then ``--set section.key=value`` overrides.

Every value is type-checked against the dataclass field (or, for ``model.*``, against the model constructor's
keyword defaults); an unknown key or a value of the wrong type is a one-line :class:`ConfigError`. The resolved
configuration is saved with the run as ``config.yaml`` and reloads to the same object.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from wherewhen.errors import ConfigError
from wherewhen.models import available_models, model_class
from wherewhen.models.registry import model_parameters
from wherewhen.train.augment import AugmentSection

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "plateau")
MONITORS = ("val_accuracy", "val_loss")
TIE_BREAKS = ("val_loss", "earliest")


@dataclass
class ModelSection:
    """Which registered model and its constructor keyword arguments (``model.<arg>`` in YAML and ``--set``)."""

    name: str = "attention_pool"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataSection:
    store: str = ""  # the feature store folder (`wherewhen train --data`)
    frames: int = 0  # T rows per clip; 0 = the longest clip in the training split (clips shorter repeat rows)
    batch_size: int = 16
    num_workers: int = 0
    train_split: str = "train"
    val_split: str = ""  # empty: carve a validation set out of train_split, whole groups at a time
    val_fraction: float = 0.2  # share of train_split carved out for validation; 0 = no validation
    test_split: str = "test"  # never read during training; recorded in run.json for `evaluate`
    jitter: bool = True  # training picks a random row inside each of T equal segments (TSN); else the centre
    frame_selection: str = ""  # JSON {video_id: [cube rows]}: frame_mask for models with given hard attention


@dataclass
class OptimSection:
    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-2  # applied to weight matrices and kernels only, never to biases or norms
    momentum: float = 0.9  # SGD and RMSprop
    nesterov: bool = False  # SGD
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW


@dataclass
class ScheduleSection:
    name: str = "cosine"
    warmup_epochs: float = 0.0  # linear warm-up from 0, in (fractional) epochs; not with plateau
    min_lr: float = 0.0  # cosine: the learning rate at the last step
    step_epochs: int = 10  # step: multiply by gamma every step_epochs epochs
    gamma: float = 0.1  # step and plateau
    patience: int = 2  # plateau: epochs without improvement before the learning rate drops


@dataclass
class TrainSection:
    epochs: int = 40
    max_steps: int = 0  # caps the epochs at ceil(max_steps / batches per epoch) once the data is known; 0 = no cap
    grad_clip: float = 1.0  # max global L2 norm of the gradients; 0 = off
    label_smoothing: float = 0.0  # cross-entropy against (1 - e) one-hot + e / C (Szegedy et al. 2016)
    monitor: str = "val_accuracy"  # what selects the best epoch and drives early stopping
    tie_break: str = "val_loss"  # epochs tied on val_accuracy: the lower validation loss wins, or the earliest
    patience: int = 10  # early stopping: epochs without improvement; 0 = never stop early
    # after the last epoch, the best model's attention re-fitted as a linear cell detector on its own pseudo labels
    # (train/refine.py; attention_pool only)
    refine: bool = False
    # a trained model (run or model folder) whose most-weighted cells the mask learns beside the class, at this
    # weight (train/teacher.py; the models in TEACHABLE)
    attention_teacher: str = ""
    teacher_weight: float = 1.0
    trials: int = 1  # starts: train this many seeds for trial_epochs, finish the best on validation (train/trials.py)
    trial_epochs: int = 10  # epochs each trial trains before the best one is chosen
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # float16 autocast + gradient scaling on CUDA; ignored on CPU
    progress: bool = True  # progress bars (only on a terminal)


REFINABLE = "attention_pool"  # the model whose form the pseudo-label refinement fits (train.refine)
TEACHABLE = ("stam", "stpn", "basnet", "cola")  # spatial attention a gate per cell in [0, 1] (train.attention_teacher)


@dataclass
class RunConfig:
    seed: int = 0
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    augment: AugmentSection = field(default_factory=AugmentSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    train: TrainSection = field(default_factory=TrainSection)

    # ---- (de)serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        model = data.pop("model")
        data["model"] = {"name": model["name"], **model["args"]}
        return {"seed": data.pop("seed"), "model": data.pop("model"), **data}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> RunConfig:
        config = cls()
        config.update(data, source)
        return config

    def update(self, data: dict[str, Any], source: str = "config") -> None:
        """Merge a nested mapping into this config, checking every key and type."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
        for key, value in data.items():
            self.set(str(key), value, source, nested_ok=True)

    def set(self, key: str, value: Any, source: str = "--set", nested_ok: bool = False) -> None:
        """Set one dotted key (``optim.lr``) to a value, converted to the field's type."""
        parts = key.split(".")
        if parts[0] == "model":
            self._set_model(parts[1:], value, source, key)
            return
        target: Any = self
        for depth, part in enumerate(parts):
            names = [f.name for f in fields(target)]
            if part not in names:
                where = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(f"{source}: unknown config key {key!r}; keys in {where}: {', '.join(names)}")
            current = getattr(target, part)
            if is_dataclass(current):
                if depth == len(parts) - 1:
                    if not (nested_ok and isinstance(value, dict)):
                        raise ConfigError(f"{source}: {key!r} is a section; set one of its keys, e.g. {key}.{names[0]}")
                    for sub_key, sub_value in value.items():
                        self.set(f"{key}.{sub_key}", sub_value, source, nested_ok=True)
                    return
                target = current
                continue
            if depth != len(parts) - 1:
                raise ConfigError(f"{source}: unknown config key {key!r} ({'.'.join(parts[: depth + 1])} is a value)")
            hint = typing.get_type_hints(type(target))[part]
            setattr(target, part, _convert(value, hint, key, source))
            return

    def _set_model(self, parts: list[str], value: Any, source: str, key: str) -> None:
        if not parts:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: 'model' must be a mapping with a name and the model's arguments")
            if "name" in value:
                self._set_model(["name"], value["name"], source, "model.name")
            for sub_key, sub_value in value.items():
                if sub_key != "name":
                    self._set_model([str(sub_key)], sub_value, source, f"model.{sub_key}")
            return
        if len(parts) != 1:
            raise ConfigError(f"{source}: unknown config key {key!r}; model arguments are model.<argument>")
        if parts[0] == "name":
            self.model.name = _convert(value, str, key, source)
        elif parts[0] == "args" and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                self._set_model([str(sub_key)], sub_value, source, f"model.{sub_key}")
        else:
            self.model.args[parts[0]] = value

    # ---- validation ---------------------------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Check choices, ranges and the model arguments against the model's constructor; returns self."""
        _choice("optim.name", self.optim.name, OPTIMIZERS)
        _choice("schedule.name", self.schedule.name, SCHEDULES)
        _choice("train.monitor", self.train.monitor, MONITORS)
        _choice("train.tie_break", self.train.tie_break, TIE_BREAKS)
        _at_least("seed", self.seed, 0)
        _at_least("data.frames", self.data.frames, 0)
        _at_least("data.batch_size", self.data.batch_size, 1)
        _at_least("data.num_workers", self.data.num_workers, 0)
        _at_least("train.epochs", self.train.epochs, 1)
        _at_least("train.patience", self.train.patience, 0)
        _at_least("train.trials", self.train.trials, 1)
        _at_least("train.trial_epochs", self.train.trial_epochs, 1)
        _at_least("train.max_steps", self.train.max_steps, 0)
        _at_least("train.grad_clip", self.train.grad_clip, 0.0)
        _at_least("optim.weight_decay", self.optim.weight_decay, 0.0)
        _at_least("optim.momentum", self.optim.momentum, 0.0)
        _at_least("schedule.warmup_epochs", self.schedule.warmup_epochs, 0.0)
        _at_least("schedule.step_epochs", self.schedule.step_epochs, 1)
        _at_least("schedule.patience", self.schedule.patience, 0)
        _at_least("schedule.min_lr", self.schedule.min_lr, 0.0)
        if not self.optim.lr > 0:
            raise ConfigError(f"optim.lr must be > 0, got {self.optim.lr}")
        if not 0 < self.schedule.gamma <= 1:
            raise ConfigError(f"schedule.gamma must be in (0, 1], got {self.schedule.gamma}")
        if not 0 <= self.train.label_smoothing < 1:
            raise ConfigError(f"train.label_smoothing must be in [0, 1), got {self.train.label_smoothing}")
        if not 0 <= self.data.val_fraction < 1:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {self.data.val_fraction}")
        if len(self.optim.betas) != 2 or not all(0 <= b < 1 for b in self.optim.betas):
            raise ConfigError(f"optim.betas must be two numbers in [0, 1), got {self.optim.betas}")
        _check_augment(self.augment)
        if self.schedule.name == "plateau" and self.schedule.warmup_epochs > 0:
            raise ConfigError("schedule.warmup_epochs is not supported with schedule.name=plateau; set it to 0")
        if self.data.test_split in (self.data.train_split, self.data.val_split):
            raise ConfigError(
                f"data.test_split {self.data.test_split!r} is also used for training or validation; "
                "the test split is never seen during training"
            )
        if self.data.val_split and self.data.val_split == self.data.train_split:
            raise ConfigError(f"data.val_split and data.train_split are both {self.data.val_split!r}")
        if self.train.refine and self.model.name != REFINABLE:
            raise ConfigError(f"train.refine re-fits {REFINABLE}'s attention; set it to false for {self.model.name!r}")
        if self.train.attention_teacher and self.model.name not in TEACHABLE:
            raise ConfigError(
                f"train.attention_teacher teaches a mask of gates ({', '.join(TEACHABLE)}); "
                f"{self.model.name!r} has none"
            )
        self.model.args = check_model_args(self.model.name, self.model.args)
        return self


def _check_augment(cfg: AugmentSection) -> None:
    for key in ("mirror", "mix", "mix_same", "cell_dropout"):
        value = getattr(cfg, key)
        if not 0 <= value <= 1:
            raise ConfigError(f"augment.{key} is a probability in [0, 1], got {value}")
    if not 0 < cfg.crop <= 1:
        raise ConfigError(f"augment.crop is the shortest kept share of the rows, in (0, 1], got {cfg.crop}")
    if not 0 < cfg.mix_rows < 1:
        raise ConfigError(
            f"augment.mix_rows is the share of rows taken from the other clip, in (0, 1), got {cfg.mix_rows}"
        )
    _at_least("augment.shift", cfg.shift, 0)
    _at_least("augment.noise", cfg.noise, 0.0)


def check_model_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Type-check model keyword arguments against the registered constructor's signature and defaults."""
    cls = model_class(name)
    params = model_parameters(cls)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve: fall back to the defaults' types
        hints = {}
    checked: dict[str, Any] = {}
    for key, value in args.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise ConfigError(f"model {name!r} has no argument {key!r} (model.{key}); its arguments: {known}")
        param = params[key]
        hint = hints.get(key)
        if hint is None and param.default is not inspect.Parameter.empty and param.default is not None:
            hint = type(param.default)
        checked[key] = value if hint is None else _convert(value, hint, f"model.{key}", "config")
    return checked


def load_config(
    path: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    values: dict[str, Any] | None = None,
    base: RunConfig | None = None,
) -> RunConfig:
    """Defaults (or ``base``), then the model's recommended training settings, then the YAML file at ``path``, then
    ``values`` (dotted keys, from command-line options such as ``--model``), then ``key=value`` overrides; validated.

    A model class may recommend settings (``VideoModel.recommended_training``, e.g. ``{"optim.lr": 3e-3}``); they
    replace the defaults only, so anything the user writes wins. The resolved values are saved with the run."""
    data = read_yaml(path) if path is not None else None

    def layered(recommended: dict[str, Any]) -> RunConfig:
        config = copy.deepcopy(base) if base is not None else RunConfig()
        for key, value in recommended.items():
            config.set(key, value, f"model {config.model.name!r} recommends")
        if data is not None:
            config.update(data, str(path))
        for key, value in (values or {}).items():
            config.set(key, value, "command line")
        for item in overrides:
            key, value = parse_override(item)
            config.set(key, value, f"--set {item}")
        return config

    config = layered({})
    recommended = recommended_training(config.model.name) if base is None else {}
    if recommended:
        config = layered(recommended)
    return config.validate()


def recommended_training(model_name: str) -> dict[str, Any]:
    """The training settings a registered model recommends (empty for an unknown name: validation reports it)."""
    if model_name not in available_models():
        return {}
    return dict(getattr(model_class(model_name), "recommended_training", {}))


def read_yaml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """``optim.lr=3e-4`` -> ("optim.lr", "3e-4" parsed as YAML); the field's type converts it further."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, for example optim.lr=3e-4")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    def fail() -> typing.NoReturn:
        raise ConfigError(f"{source}: {key} expects {_type_name(hint)}, got {value!r}")

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key, source)
            except ConfigError:
                continue
        fail()
    if origin is list:
        (item_type,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, (list, tuple)):
            fail()
        return [_convert(v, item_type, key, source) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            fail()
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        fail()
    if hint is int:
        if isinstance(value, bool):
            fail()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        fail()
    if hint is float:
        if isinstance(value, bool):
            fail()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                fail()
        fail()
    if hint is str:
        if isinstance(value, str):
            return value
        fail()
    if isinstance(hint, type) and not isinstance(value, hint):
        fail()
    return value


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{key} must be one of {', '.join(options)}; got {value!r}")


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{key} must be >= {low}, got {value}")
