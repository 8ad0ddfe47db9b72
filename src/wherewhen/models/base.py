"""Base class of every model head: feature cubes (B, T, D, K, K) in, ModelOutput out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.errors import CheckpointError, ConfigError
from wherewhen.features.store import StoreInfo
from wherewhen.models.output import ModelOutput

if TYPE_CHECKING:  # models.pretrained imports this module
    from wherewhen.models.pretrained import Pretrained


class VideoModel(nn.Module):
    """A head on top of frame feature cubes.

    Subclasses take ``num_classes``, ``in_channels`` (D) and ``grid`` (K) plus their own explicit keyword
    arguments, and implement :meth:`forward`. ``uses_flow`` models also receive flow cubes of the same shape; a model
    that reads them only when asked takes a ``flow`` keyword and sets ``uses_flow`` per instance (``attention_pool``).
    Any other keyword input ``forward`` needs is named in :attr:`extra_inputs` and built by
    ``wherewhen.models.inputs`` wherever the model runs (training, evaluation, explanation).
    """

    name: ClassVar[str] = ""
    uses_flow: bool = False  # a class default; an instance may set its own (see above)
    # Training settings this model trains best with (dotted config keys, e.g. {"optim.lr": 3e-3}); they replace
    # the engine's defaults, never what a user sets (wherewhen.train.config.load_config).
    recommended_training: ClassVar[dict[str, Any]] = {}
    # The share of a spatial map's peak that its box keeps (evaluate.boxes), unless a user sets --threshold. Maps
    # differ in shape (a [0, 1] mask, a softmax share of the frame), so each model's is chosen on validation; a class
    # default, which an instance may set for its own form (attention_pool's scorers).
    box_threshold: float = 0.5
    # Keywords added after models of this class were first saved, each with the value that rebuilds a model saved
    # without it (``models.registry.saved_kwargs``); a new model starts with none.
    added_keywords: ClassVar[dict[str, Any]] = {}

    def __init__(self, num_classes: int, in_channels: int, grid: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"num_classes must be at least 2, got {num_classes}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.grid = grid
        # Filled by build_model so the model can be saved and rebuilt from JSON.
        self.build_kwargs: dict[str, Any] = {}
        # Set by the trainer (train.label_smoothing); a training setting, so it is not saved with the model.
        self.label_smoothing = 0.0

    @property
    def extra_inputs(self) -> tuple[str, ...]:
        """Keyword inputs of ``forward`` beyond ``cubes`` and ``flow``, each (B, T, ...) and built per clip by
        ``wherewhen.models.inputs.BUILDERS``; none by default."""
        return ()

    @classmethod
    def from_pretrained(cls, folder: str | Path, map_location: str = "cpu") -> Pretrained:
        """Load a saved model folder (``models.pretrained.from_pretrained``): ``.model`` in eval mode, its
        ``.classes``, ``.features`` (how its cubes were made) and ``.config``. Called on a subclass, the saved model
        must be one of that class."""
        from wherewhen.models import pretrained  # models.pretrained rebuilds models through this module

        loaded = pretrained.from_pretrained(folder, map_location)
        if not isinstance(loaded.model, cls):
            raise CheckpointError(Path(folder), f"holds a {loaded.config['model']} model, not a {cls.__name__}")
        return loaded

    def save_pretrained(
        self, folder: str | Path, *, classes: list[str], features: StoreInfo, extra: dict[str, Any] | None = None
    ) -> Path:
        """Write this model to ``folder`` (``models.pretrained.save_pretrained``) and return it."""
        from wherewhen.models import pretrained  # models.pretrained rebuilds models through this module

        return pretrained.save_pretrained(self, folder, classes=classes, features=features, extra=extra)

    def forward(self, cubes: Tensor, flow: Tensor | None = None) -> ModelOutput:  # pragma: no cover
        raise NotImplementedError

    def loss_terms(self, output: ModelOutput, targets: Tensor) -> dict[str, Tensor]:
        """Named loss terms whose sum is the training loss. Override to add target-dependent terms.

        ``ce`` is the cross-entropy of the video logits, with ``label_smoothing`` (Szegedy et al. 2016) when set.
        ``targets`` are class indices (B,) or, for clips mixed by augmentation, class probabilities (B, C).
        """
        terms = {"ce": F.cross_entropy(output.logits, targets, label_smoothing=self.label_smoothing)}
        terms.update(output.regularizers)
        return terms

    def check_input(self, cubes: Tensor, flow: Tensor | None = None) -> None:
        """Raise a one-line ConfigError when cubes do not fit this model."""
        if cubes.dim() != 5:
            raise ConfigError(f"{self.name}: expected cubes (B, T, D, K, K), got shape {tuple(cubes.shape)}")
        _, _, d, k1, k2 = cubes.shape
        if d != self.in_channels or k1 != self.grid or k2 != self.grid:
            raise ConfigError(
                f"{self.name}: built for cubes with D={self.in_channels}, K={self.grid}, got D={d}, K={k1}x{k2}"
            )
        if self.uses_flow and (flow is None or flow.shape != cubes.shape):
            got = None if flow is None else tuple(flow.shape)
            raise ConfigError(f"{self.name}: needs flow cubes of shape {tuple(cubes.shape)}, got {got}")


def target_probabilities(targets: Tensor, num_classes: int) -> Tensor:
    """(B, C) class probabilities of targets given as indices (B,) or already as probabilities (B, C)."""
    if targets.is_floating_point():
        return targets
    return F.one_hot(targets, num_classes).to(torch.get_default_dtype())
