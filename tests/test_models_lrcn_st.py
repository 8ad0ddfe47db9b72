"""lrcn_st: soft, given (human frame selection) and REINFORCE-learned temporal attention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from wherewhen.errors import ConfigError, DatasetError
from wherewhen.features.frame_selection import load_frame_selection, selection_mask
from wherewhen.models import build_model
from wherewhen.models.lrcn_st import SpatioTemporalLRCN

B, T, D, K, C = 4, 8, 10, 3, 3


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids thread hand-off costs that dominate on a shared 2-core box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**kwargs: object) -> SpatioTemporalLRCN:
    torch.manual_seed(0)
    model = build_model("lrcn_st", num_classes=C, in_channels=D, grid=K, reduce_dim=8, hidden_size=16, **kwargs)
    assert isinstance(model, SpatioTemporalLRCN)
    return model


def _cubes(seed: int = 0) -> torch.Tensor:
    return torch.rand(B, T, D, K, K, generator=torch.Generator().manual_seed(seed))


def test_selection_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "selection.json"
    path.write_text(json.dumps({"PS7A1P1T1": [4, 2, 3, 3], "PS7A2P3T2": [0]}))
    selection = load_frame_selection(path)
    assert selection == {"PS7A1P1T1": [2, 3, 4], "PS7A2P3T2": [0]}
    mask = selection_mask(selection, ["PS7A2P3T2", "PS7A1P1T1"], num_frames=6)
    assert mask.tolist() == [[1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0]]
    with pytest.raises(ConfigError, match="no entry for video 'other'"):
        selection_mask(selection, ["other"], 6)
    with pytest.raises(ConfigError, match="names row 4, but cubes have 4"):
        selection_mask(selection, ["PS7A1P1T1"], 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": [1, 2,]}', r"selection.json:1: not valid JSON"),
        ('["a", "b"]', "expected a JSON object"),
        ('{"a": []}', "video 'a': expected a non-empty list"),
        ('{"a": [1, -2]}', "video 'a': expected a non-empty list"),
    ],
)
def test_bad_selection_files_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "selection.json"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        load_frame_selection(path)
    assert "\n" not in str(info.value)
    with pytest.raises(DatasetError, match="not found"):
        load_frame_selection(tmp_path / "missing.json")


def test_given_selection_is_the_temporal_attention_and_weights_the_frame_predictions() -> None:
    model = _model(temporal="given").eval()
    mask = torch.zeros(B, T)
    mask[0, [1, 2]] = 1
    mask[1, [7]] = 1
    mask[2:, :] = 1
    with torch.no_grad():
        out = model(_cubes(), frame_mask=mask)
    torch.testing.assert_close(out.temporal, mask / mask.sum(dim=1, keepdim=True))
    assert out.frame_logits is not None
    probs = out.frame_logits.softmax(-1)
    expected = torch.stack([probs[0, [1, 2]].mean(0), probs[1, 7], probs[2].mean(0), probs[3].mean(0)])
    torch.testing.assert_close(out.logits.exp(), expected)
    with pytest.raises(ConfigError, match="needs frame_mask"):
        model(_cubes())
    with pytest.raises(ConfigError, match="at least one selected frame"):
        model(_cubes(), frame_mask=torch.zeros(B, T))


def test_soft_temporal_attention_is_a_softmax_over_frames_of_scores_from_h_t_minus_1() -> None:
    model = _model().eval()
    with torch.no_grad():
        out = model(_cubes())
    assert (out.temporal > 0).all()
    torch.testing.assert_close(out.temporal.sum(1), torch.ones(B))
    assert out.frame_logits is not None
    expected = (out.temporal.unsqueeze(-1) * out.frame_logits.softmax(-1)).sum(1)
    torch.testing.assert_close(out.logits.exp(), expected)


def test_reinforce_samples_in_training_and_is_deterministic_in_evaluation() -> None:
    model = _model(temporal="reinforce").train()
    out = model(_cubes())
    assert out.extras["log_prob"].shape == (B,)
    kept = out.temporal > 0
    torch.testing.assert_close(out.temporal, kept.float() / kept.sum(1, keepdim=True))
    targets = torch.tensor([0, 1, 2, 0])
    terms = model.loss_terms(out, targets)
    reward = out.logits.exp().gather(1, targets.view(-1, 1)).squeeze(1).detach()
    # self-critical baseline: the reward of the deterministic selection 1[pi > 0.5] for the same video
    greedy = (out.extras["greedy_temporal"].unsqueeze(-1) * out.frame_logits.softmax(-1)).sum(1)
    baseline = greedy[torch.arange(B), targets]
    expected_term = -(((reward - baseline) * out.extras["log_prob"]).mean())
    torch.testing.assert_close(terms["reinforce"], expected_term)
    assert (out.extras["greedy_temporal"] > 0).any()

    model.eval()
    with torch.no_grad():
        a, b = model(_cubes()), model(_cubes())
    torch.testing.assert_close(a.temporal, b.temporal)
    assert "log_prob" not in a.extras
    prob = a.extras["temporal_prob"]
    keep = (prob > 0.5).float()
    nothing = keep.sum(1) == 0
    keep[nothing] = torch.nn.functional.one_hot(prob[nothing].argmax(1), T).float()  # the most likely frame
    torch.testing.assert_close(a.temporal, keep / keep.sum(1, keepdim=True))
    assert model.loss_terms(a, targets)["reinforce"].item() == 0.0


def test_reinforce_log_prob_is_the_bernoulli_log_likelihood_and_moving_baseline_updates() -> None:
    model = _model(temporal="reinforce", baseline="moving", baseline_momentum=0.5).train()
    torch.manual_seed(3)
    out = model(_cubes())
    prob = out.extras["temporal_prob"].detach()
    # recover the draws (with 8 frames at pi ~ 0.5 every video keeps some): z_t = 1 exactly where beta > 0
    z = (out.temporal > 0).float()
    expected = (z * prob.log() + (1 - z) * (1 - prob).log()).sum(1)
    torch.testing.assert_close(out.extras["log_prob"].detach(), expected)
    targets = torch.tensor([0, 1, 2, 0])
    r1 = out.logits.exp()[torch.arange(B), targets].detach()
    terms = model.loss_terms(out, targets)
    torch.testing.assert_close(terms["reinforce"], -((r1 - r1.mean()) * out.extras["log_prob"]).mean())
    torch.testing.assert_close(model.reward_baseline, r1.mean())  # started at the first batch mean, then 0.5/0.5
    out2 = model(_cubes(1))
    r2 = out2.logits.exp()[torch.arange(B), targets].detach()
    model.loss_terms(out2, targets)
    torch.testing.assert_close(model.reward_baseline, 0.5 * r1.mean() + 0.5 * r2.mean())


def _late_evidence_batch(n: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first half of each clip shows a random wrong class, the second half the true one (channel = class)."""
    labels = torch.randint(0, C, (n,))
    decoy = (labels + torch.randint(1, C, (n,))) % C
    cubes = torch.rand(n, t, D, K, K) * 0.1
    cubes[torch.arange(n), : t // 2, decoy] += 2.0
    cubes[torch.arange(n), t // 2 :, labels] += 2.0
    return cubes, labels


def test_reinforce_learns_to_drop_the_frames_that_mislead() -> None:
    """Early frames cannot tell the class (the clip mean shows both the decoy and the true class, and h_t has
    not seen the order yet); the policy must learn to drop them while the classifier learns."""
    torch.manual_seed(0)
    model = _model(temporal="reinforce", dropout=0.0, lambda_ds=0.0, lambda_reinforce=3.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(200):
        cubes, labels = _late_evidence_batch(32, 8)
        loss = sum(model.loss_terms(model(cubes), labels).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    cubes, labels = _late_evidence_batch(64, 8)
    with torch.no_grad():
        out = model(cubes)
    prob = out.extras["temporal_prob"]
    early, late = prob[:, :4].mean().item(), prob[:, 4:].mean().item()
    assert early < 0.2 and late > 2 * early, (early, late)
    assert (out.logits.argmax(1) == labels).float().mean() > 0.9
