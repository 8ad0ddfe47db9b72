"""Every registered model honours the ModelOutput contract: shapes, attention sums, regularizer names, gradients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from wherewhen.errors import ConfigError
from wherewhen.models import VideoModel, available_models, build_model, model_class

B, T, D, K, C = 4, 6, 24, 5, 3


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# What each model documents: its regularizer names, extra loss terms, and whether spatial is a softmax (sums to 1)
# or a mask in [0, 1]. A new model must be added here with what its docstring says.
DOCUMENTED: dict[str, dict[str, Any]] = {
    "softmax_cube": {"regularizers": set(), "spatial": "softmax"},
    "lstm_avg": {"regularizers": set(), "spatial": "softmax"},
    "lstm_max": {"regularizers": set(), "spatial": "softmax"},
    "alstm": {"regularizers": {"doubly_stochastic"}, "spatial": "softmax"},
    "lrcn_st": {"regularizers": {"doubly_stochastic"}, "spatial": "softmax"},
    "convlstm": {"regularizers": set(), "spatial": "softmax"},
    "conv_alstm": {"regularizers": set(), "spatial": "softmax"},
    "motion_alstm": {"regularizers": set(), "spatial": "softmax"},
    "stam": {"regularizers": {"tv", "contrast", "unimodal"}, "spatial": "mask"},
    "tsn": {"regularizers": set(), "spatial": "softmax"},
    # uniform_start (the default): the scorer's output weight starts at zero, so the scorer gets gradients from step 2
    "attention_pool": {"regularizers": set(), "spatial": "softmax", "no_first_gradient": {"reduce", "att_v", "att_u"}},
    "stpn": {"regularizers": {"sparsity"}, "spatial": "mask"},
    "wtalc": {"regularizers": set(), "terms": {"casl"}, "spatial": "softmax"},
    "basnet": {"regularizers": {"filter_l1"}, "terms": {"ce_base"}, "spatial": "mask"},
    "cola": {"regularizers": {"snico"}, "spatial": "mask"},
}
RECURRENT = {"lstm_avg", "lstm_max", "alstm", "lrcn_st", "convlstm", "conv_alstm", "motion_alstm", "stam"}

# (model, keyword arguments, extra forward arguments): defaults for every model plus the non-default paths.


def shipped_models() -> list[str]:
    """Registered models of the package (tests elsewhere may register their own)."""
    return [n for n in available_models() if model_class(n).__module__.startswith("wherewhen.models.")]


VARIANTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [(name, {}, {}) for name in shipped_models()] + [
    ("lrcn_st", {"temporal": "given"}, {"frame_mask": "every_other"}),
    ("lrcn_st", {"temporal": "reinforce"}, {}),
    ("lrcn_st", {"layers": 3}, {}),
    ("alstm", {"layers": 3, "reduce_dim": None}, {}),
    ("convlstm", {"peephole": True, "layers": 2}, {}),
    ("conv_alstm", {"peephole": True, "attention_kernel": 3}, {}),
    ("stam", {"peephole": True}, {}),
    ("stam", {"deep_output": True, "energy": "sum", "mask_bias": -1.0}, {}),
    ("alstm", {"deep_output": True}, {}),
    ("conv_alstm", {"deep_output": True}, {}),
    ("lrcn_st", {"deep_output": True, "attend_frame": True}, {}),
    ("attention_pool", {"gated": False, "normalize": True}, {}),
    ("attention_pool", {"uniform_start": False}, {}),
    ("attention_pool", {"flow": True}, {}),
    ("attention_pool", {"flow": True, "motion_context": False}, {}),
    ("tsn", {"segments": 0, "reduce_dim": 8}, {}),
    ("wtalc", {"lambda_casl": 0.0}, {}),
    ("lstm_max", {"layers": 2, "reduce_dim": 0}, {}),
]


def _ids(variant: tuple[str, dict[str, Any], dict[str, Any]]) -> str:
    name, kwargs, _ = variant
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cubes = torch.randn(B, T, D, K, K, generator=g).relu()
    flow = torch.randn(B, T, D, K, K, generator=g).relu()
    targets = torch.arange(B) % C
    return cubes, flow, targets


def _forward_kwargs(extra: dict[str, Any]) -> dict[str, Any]:
    if extra.get("frame_mask") == "every_other":
        mask = torch.zeros(B, T)
        mask[:, ::2] = 1.0
        return {"frame_mask": mask}
    return {}


def _build(name: str, kwargs: dict[str, Any]) -> VideoModel:
    torch.manual_seed(0)
    return build_model(name, num_classes=C, in_channels=D, grid=K, **kwargs)


def test_every_model_is_documented_here() -> None:
    assert set(shipped_models()) == set(DOCUMENTED), "add new models to DOCUMENTED with what their docstring says"


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_output_contract_and_gradients(variant: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
    name, kwargs, extra = variant
    model = _build(name, kwargs)
    model.train()
    cubes, flow, targets = _inputs()
    out = model(cubes, flow if model.uses_flow else None, **_forward_kwargs(extra))

    assert out.logits.shape == (B, C)
    assert torch.isfinite(out.logits).all()
    assert out.spatial.shape == (B, T, K, K)
    assert out.spatial.min() >= 0 and out.spatial.max() <= 1
    if DOCUMENTED[name]["spatial"] == "softmax":
        torch.testing.assert_close(out.spatial.sum(dim=(2, 3)), torch.ones(B, T))
    assert out.temporal.shape == (B, T)
    assert out.temporal.min() >= 0
    torch.testing.assert_close(out.temporal.sum(dim=1), torch.ones(B))
    if out.frame_logits is not None:
        assert out.frame_logits.shape == (B, T, C)
    assert set(out.regularizers) == DOCUMENTED[name]["regularizers"]
    for value in out.regularizers.values():
        assert value.dim() == 0 and torch.isfinite(value)

    terms = model.loss_terms(out, targets)
    expected_terms = {"ce"} | DOCUMENTED[name]["regularizers"] | DOCUMENTED[name].get("terms", set())
    if kwargs.get("temporal") == "reinforce":
        expected_terms.add("reinforce")
    assert set(terms) == expected_terms
    sum(terms.values()).backward()
    silent = DOCUMENTED[name].get("no_first_gradient", set()) if kwargs.get("uniform_start", True) else set()
    for pname, param in model.named_parameters():
        if pname.split(".")[0] in silent:
            assert param.grad is None or not param.grad.any(), f"{name}: {pname} moved before the scorer's output"
            continue
        assert param.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(param.grad).all(), f"{name}: non-finite gradient on {pname}"
        assert param.grad.abs().sum() > 0, f"{name}: zero gradient on {pname}"


@pytest.mark.parametrize("name", shipped_models())
def test_eval_mode_is_deterministic_and_accepts_float16(name: str) -> None:
    model = _build(name, {}).eval()
    cubes, flow, _ = _inputs(1)
    with torch.no_grad():
        first = model(cubes.half(), flow.half() if model.uses_flow else None)
        second = model(cubes, flow if model.uses_flow else None)
    assert first.logits.dtype == torch.float32
    torch.testing.assert_close(first.logits, second.logits, atol=2e-2, rtol=2e-2)  # float16 rounding of the input


@pytest.mark.parametrize("name", shipped_models())
def test_check_input_rejects_wrong_channels_and_grid(name: str) -> None:
    model = _build(name, {}).eval()
    cubes, flow, _ = _inputs()
    with pytest.raises(ConfigError, match="D=24"):
        model(cubes[:, :, :-1], flow[:, :, :-1] if model.uses_flow else None)
    with pytest.raises(ConfigError, match="K=5"):
        model(cubes[..., :-1, :-1], flow[..., :-1, :-1] if model.uses_flow else None)
    if model.uses_flow:
        with pytest.raises(ConfigError, match="flow"):
            model(cubes, None)


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_state_is_carried_between_frames(name: str) -> None:
    """Changing only the first frame changes the last frame's prediction: the LSTM state flows through time."""
    model = _build(name, {}).eval()
    cubes, flow, _ = _inputs(2)
    changed = cubes.clone()
    changed[:, 0] = torch.rand_like(changed[:, 0]) * 3
    with torch.no_grad():
        a = model(cubes, flow if model.uses_flow else None)
        b = model(changed, flow if model.uses_flow else None)
    assert a.frame_logits is not None and b.frame_logits is not None
    assert not torch.allclose(a.frame_logits[:, -1], b.frame_logits[:, -1], atol=1e-5)


@pytest.mark.parametrize("name", ["tsn", "softmax_cube"])
def test_frame_classifiers_do_not_mix_frames(name: str) -> None:
    model = _build(name, {}).eval()
    cubes, _, _ = _inputs(3)
    changed = cubes.clone()
    changed[:, 0] = torch.rand_like(changed[:, 0]) * 3
    with torch.no_grad():
        a, b = model(cubes), model(changed)
    assert a.frame_logits is not None and b.frame_logits is not None
    torch.testing.assert_close(a.frame_logits[:, 1:], b.frame_logits[:, 1:])


def test_build_model_rejects_unknown_keyword() -> None:
    with pytest.raises(ConfigError, match="alstm"):
        build_model("alstm", num_classes=C, in_channels=D, grid=K, hidden=3)
