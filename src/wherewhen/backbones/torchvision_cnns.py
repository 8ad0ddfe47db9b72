"""The backbones of the papers, from torchvision: resnet50, vgg16, alexnet, googlenet.

Weights are never downloaded here. They come from ``weights=PATH`` (a state dict) or from the torch hub cache
(``$TORCH_HOME/hub/checkpoints/<file torchvision would download>``). Each returns its last convolutional map
(before the last pooling): resnet50 2048x7x7, vgg16 512x14x14 (conv5_3), alexnet 256x13x13 (conv5),
googlenet 1024x7x7 (inception5b), all at 224 px with resize 256 and ImageNet mean/std.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from wherewhen.backbones.base import Backbone, BackboneSpec
from wherewhen.backbones.weights import load_state_dict_file
from wherewhen.errors import WeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class _Recipe:
    build: Callable[[], nn.Module]
    node: str
    channels: int
    grid: int
    weights_enum: type
    head: Callable[[nn.Module], nn.Module] | None = None


def _googlenet() -> nn.Module:
    # The ImageNet weights expect torchvision's input transform and carry the auxiliary classifiers.
    return torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True, init_weights=False)


RECIPES: dict[str, _Recipe] = {
    "resnet50": _Recipe(
        lambda: torchvision.models.resnet50(weights=None), "layer4", 2048, 7, torchvision.models.ResNet50_Weights
    ),
    "vgg16": _Recipe(
        lambda: torchvision.models.vgg16(weights=None), "features.29", 512, 14, torchvision.models.VGG16_Weights
    ),
    "alexnet": _Recipe(
        lambda: torchvision.models.alexnet(weights=None), "features.11", 256, 13, torchvision.models.AlexNet_Weights
    ),
    "googlenet": _Recipe(_googlenet, "inception5b", 1024, 7, torchvision.models.GoogLeNet_Weights),
}


def cached_weight_files(name: str) -> list[Path]:
    """Where torchvision would have cached this model's ImageNet weights (every published version)."""
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    return [checkpoints / Path(w.url).name for w in RECIPES[name].weights_enum]


def find_weights(name: str, weights: str | Path | None) -> Path:
    if weights:
        return Path(weights)
    for candidate in cached_weight_files(name):
        if candidate.is_file():
            return candidate
    expected = cached_weight_files(name)[0]
    raise WeightsError(
        expected,
        f"no ImageNet weights for {name}: pass --weights PATH to a state dict, or put the file there "
        f"(with a network: python -c \"import torchvision; torchvision.models.{name}(weights='DEFAULT')\")",
    )


def build(name: str, weights: str | Path | None = None, *, random_init: bool = False) -> Backbone:
    """Build a torchvision backbone; ``random_init`` skips weights (for shape checks only, never for features)."""
    recipe = RECIPES[name]
    net = recipe.build()
    if not random_init:
        path = find_weights(name, weights)
        state = load_state_dict_file(path)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0][:160]
            raise WeightsError(path, f"does not fit torchvision's {name} ({first})") from None
    net.eval()
    features = create_feature_extractor(net, return_nodes={recipe.node: "map"})
    spec = BackboneSpec(name, 224, 256, IMAGENET_MEAN, IMAGENET_STD, recipe.channels, recipe.grid)
    return Backbone(spec, _Select(features).to(memory_format=torch.channels_last))


class _Select(nn.Module):
    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extractor(x)["map"]
