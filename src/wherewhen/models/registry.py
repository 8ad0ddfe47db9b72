"""Models register by name; a config names a model by string. Every module in this package is scanned."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wherewhen.errors import ConfigError
from wherewhen.models.base import VideoModel

_REGISTRY: dict[str, type[VideoModel]] = {}
_INFRASTRUCTURE = {"base", "inputs", "output", "pretrained", "registry"}
_SHAPE_ARGS = ("self", "num_classes", "in_channels", "grid")


def register_model(name: str) -> Callable[[type[VideoModel]], type[VideoModel]]:
    def decorate(cls: type[VideoModel]) -> type[VideoModel]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _discover() -> None:
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")


def available_models() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[VideoModel]:
    _discover()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build_model(name: str, *, num_classes: int, in_channels: int, grid: int, **kwargs: Any) -> VideoModel:
    """Build a registered model; unknown keyword arguments give a one-line ConfigError.

    ``model.build_kwargs`` holds every constructor argument, the defaults included, so a saved model or run is
    rebuilt the same way after a later release changes a default.
    """
    cls = model_class(name)
    try:
        model = cls(num_classes=num_classes, in_channels=in_channels, grid=grid, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None
    model.build_kwargs = default_kwargs(cls) | kwargs
    return model


def saved_kwargs(name: str, saved: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments that rebuild a saved model or run: ``saved`` (every argument it was built with), plus
    the model's ``added_keywords`` that it predates, at the values that rebuild it as it was."""
    return model_class(name).added_keywords | saved


def with_flow_decided(name: str, args: dict[str, Any], features_have_flow: bool) -> dict[str, Any]:
    """``args`` with the model's ``flow`` keyword, where it has one left at None, set to whether the features hold
    flow cubes: such a model reads motion whenever the store was extracted with it (``extract --flow``)."""
    parameter = model_parameters(model_class(name)).get("flow")
    if parameter is None or args.get("flow", parameter.default) is not None:
        return args
    return args | {"flow": features_have_flow}


def model_parameters(cls: type[VideoModel]) -> dict[str, inspect.Parameter]:
    """The constructor's keyword arguments by name (not num_classes, in_channels, grid)."""
    return {
        p.name: p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in _SHAPE_ARGS and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def default_kwargs(cls: type[VideoModel]) -> dict[str, Any]:
    """The keyword arguments that have defaults, with them."""
    return {name: p.default for name, p in model_parameters(cls).items() if p.default is not p.empty}
