"""Model heads: one file per model, registered by name, all returning :class:`ModelOutput`."""

from wherewhen.models.base import VideoModel
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import available_models, build_model, model_class, register_model

__all__ = ["ModelOutput", "VideoModel", "available_models", "build_model", "model_class", "register_model"]
