"""The pseudo-label refinement (train/refine.py): pseudo labels, the detector's and the classifier's inputs and the
refined model against hand-computed cases, and a real run refined end to end on the embedded benchmark's cubes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from benchmarks.refine_choice import Run, refined_at

from model_cells import B, C, D, K, T, cells, cubes
from wherewhen.errors import ConfigError
from wherewhen.models import build_model
from wherewhen.models.pretrained import from_pretrained
from wherewhen.train import refine as R
from wherewhen.train import resume_run, train
from wherewhen.train.config import load_config
from wherewhen.train.logistic import Linear


def linear_pool(**kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        "attention_pool", num_classes=C, in_channels=D, grid=K, dropout=0.0, scorer="linear", **kwargs
    ).eval()


def batch(rgb: torch.Tensor, labels: list[int], flow: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    out = {"rgb": rgb, "label": torch.tensor(labels)}
    if flow is not None:
        out["flow"] = flow
    return out


def peaked_clip(*peak_shares: float) -> tuple[torch.nn.Module, torch.Tensor]:
    """A linear scorer reading channel 0, so a_{t,i} is proportional to exp(x_0), and a clip whose cells (0,0,0),
    (1,1,0), (2,0,1) and (2,1,1) hold ``peak_shares`` of the peak's weight (every other cell 0.1)."""
    model = linear_pool()
    with torch.no_grad():
        model.att_w.weight.zero_()
        model.att_w.weight[0, 0] = 1.0
    rgb = torch.zeros(1, T, D, K, K)
    shares = torch.full((T, K, K), 0.1)
    shares[0, 0, 0], shares[1, 1, 0], shares[2, 0, 1], shares[2, 1, 1] = peak_shares
    rgb[0, :, 0] = shares.log()
    return model, rgb


def test_pseudo_positives_are_the_cells_at_0_85_of_the_clip_peak_or_more() -> None:
    """Cells at 1, 0.95, 0.86 and 0.84 of the peak's weight: the first three are positives."""
    model, rgb = peaked_clip(1.0, 0.95, 0.86, 0.84)
    positives = R.pseudo_labels(model, [batch(rgb, [0])]).positives
    expected = torch.zeros(T, K * K, dtype=torch.bool)
    expected[0, 0] = expected[1, 2] = expected[2, 1] = True
    assert torch.equal(positives[0], expected.flatten())
    expected[2, 3] = True  # 0.84 of the peak passes half of it
    assert torch.equal(R.at_share_of_peak(R.cell_weights(model, [batch(rgb, [0])]), 0.5)[0], expected.flatten())


def test_the_gate_share_widens_only_the_cells_the_bias_is_calibrated_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """With GATE_SHARE, the detector learns the same pseudo positives (cells at 0.85 of the peak) and its bias
    moves to the share of the cells at GATE_SHARE of the peak: 2 and 4 of 12 cells here, log(2/10) vs log(4/8)."""
    model, rgb = peaked_clip(1.0, 0.9, 0.6, 0.55)
    monkeypatch.setattr(R, "GATE_SHARE", None)
    monkeypatch.setattr(R, "CROSS_CHECK", False)
    same = R.pseudo_labels(model, [batch(rgb, [0])])
    assert torch.equal(same.gate, same.positives) and int(same.positives.sum()) == 2
    monkeypatch.setattr(R, "GATE_SHARE", 0.5)
    wide = R.pseudo_labels(model, [batch(rgb, [0])])
    assert torch.equal(wide.positives, same.positives) and int(wide.gate.sum()) == 4
    clips = R.read_clips(model, [batch(rgb, [0])])
    narrow_fit, wide_fit = (R.fit_detector(clips, labels, l2=0.1, seed=0) for labels in (same, wide))
    torch.testing.assert_close(wide_fit.weight, narrow_fit.weight)
    cells = T * K * K
    shift = math.log(4 / (cells - 4)) - math.log(2 / (cells - 2))
    torch.testing.assert_close(wide_fit.bias, narrow_fit.bias + shift)


def test_the_cross_check_leaves_out_the_clip_whose_pseudo_label_misses_the_cue() -> None:
    """Eight clips of 49 random cells, one cell per clip carrying the cue (channel 0 at 6 standard deviations); the
    pseudo labels mark it in seven clips and a plain cell in the last. A detector fitted on either half of the clips
    finds the cue, so only the last clip's best cell falls outside its marked cells."""
    generator = torch.Generator().manual_seed(0)
    n, cells = 8, 49
    x = torch.randn(n, cells, 4, generator=generator)
    cue = torch.arange(n) * 2
    x[torch.arange(n), cue, 0] = 6.0
    positives = torch.zeros(n, cells, dtype=torch.bool)
    positives[torch.arange(n), cue] = True
    positives[n - 1] = False
    positives[n - 1, cue[n - 1] + 1] = True
    clips = R.Clips(x.half(), None, torch.arange(n) % 2, frames=1)
    kept = R.confirmed(clips, R.PseudoLabels(positives, positives), l2=0.1, seed=0)
    assert kept.tolist() == [True] * (n - 1) + [False]


def frame_gate_attention(scores: torch.Tensor) -> torch.Tensor:
    """(T, L) scores -> (T, L): softmax within each frame times sigmoid(max) of the frame, normalized over frames."""
    g = torch.stack([torch.sigmoid(frame.max()) for frame in scores])
    return torch.stack([g[t] / g.sum() * scores[t].softmax(0) for t in range(len(scores))])


def test_attended_features_are_the_detector_attention_pooled_cells_and_motion_bands() -> None:
    """z' = sum a' x over every cell of the clip, a' the frame-gated attention of s = w^T x + b; with flow,
    sum_t tau'_t m_t beside it."""
    model = linear_pool(flow=True, motion_columns=K)
    rgb, flow = cubes(0), cubes(1)
    clips = R.read_clips(model, [batch(rgb, [0, 1], flow)])
    assert clips.cells.shape == (B, T * K * K, 2 * D) and clips.motion is not None
    detector = Linear(torch.linspace(-1, 1, 2 * D)[None], torch.tensor([0.3]))
    features = R.attended(clips, detector)
    both = torch.cat([rgb, flow], dim=2)
    for b in range(B):
        x = [v for frame in cells(both[b]) for v in frame]
        s = torch.stack([detector.weight[0] @ v + detector.bias[0] for v in x])
        a = frame_gate_attention(s.view(T, K * K)).flatten()
        z = sum(ai * v for ai, v in zip(a, x, strict=True))
        tau = a.view(T, K * K).sum(1)
        m = [torch.cat([sum(frame[r * K + c] for r in range(K)) / K for c in range(K)]) for frame in cells(flow[b])]
        motion = sum(tau[t] * m[t] for t in range(T))
        torch.testing.assert_close(features[b], torch.cat([z, motion]), atol=2e-3, rtol=2e-3)  # float16 cells


def test_the_detector_bias_moves_to_the_pseudo_positives_share() -> None:
    """Fitted with the positives weighted up to balance, the detector's bias gains log(pi / (1 - pi)), pi the share
    of pseudo positives among all cells: 1 in 4 here, log(1/3)."""
    positives = torch.tensor([[True, False, False, False], [False, True, False, False]])
    detector = Linear(torch.ones(1, 3), torch.tensor([0.5]))
    moved = R.calibrated(detector, positives)
    assert torch.equal(moved.weight, detector.weight)
    torch.testing.assert_close(moved.bias, torch.tensor([0.5 + math.log(1 / 3)]))


def test_the_refined_model_classifies_with_the_detector_attention() -> None:
    """The refined attention_pool's forward is the detector's frame-gated attention and the classifier's read-out:
    its attention is the one it classifies with."""
    teacher = build_model("attention_pool", num_classes=C, in_channels=D, grid=K, flow=True, motion_columns=K)
    g = torch.Generator().manual_seed(3)
    detector = Linear(torch.randn(1, 2 * D, generator=g), torch.randn(1, generator=g))
    classifier = Linear(torch.randn(C, 2 * D + K * D, generator=g), torch.randn(C, generator=g))
    refined = R.refined_model(teacher, detector, classifier)
    kwargs = refined.build_kwargs
    assert kwargs["scorer"] == "linear" and kwargs["timing"] == "frame_gate" and kwargs["motion_columns"] == K
    rgb, flow = cubes(0), cubes(1)
    clips = R.read_clips(refined, [batch(rgb.half(), [0, 1], flow.half())])
    out = refined(rgb.half(), flow.half())
    expected = classifier(R.attended(clips, detector))  # from float16 motion bands
    torch.testing.assert_close(out.logits, expected, atol=2e-3, rtol=2e-3)
    a = torch.stack([frame_gate_attention(detector(clips.cells[b].float())[:, 0].view(T, -1)) for b in range(B)])
    torch.testing.assert_close(out.temporal, a.sum(2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.spatial.flatten(2), a / a.sum(2, keepdim=True), atol=1e-5, rtol=1e-5)


def test_detector_cells_keep_every_positive_and_draw_negatives_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    clips = R.Clips(torch.arange(40.0).view(2, 20, 1).half(), None, torch.tensor([0, 1]), frames=20)
    positives = torch.zeros(2, 20, dtype=torch.bool)
    positives[0, 3] = positives[1, 7] = True
    monkeypatch.setattr(R, "MAX_DETECTOR_CELLS", 12)
    x, y = R.detector_cells(clips, positives, seed=0)
    assert {3.0, 27.0} <= set(x[y == 1, 0].tolist()) and int(y.sum()) == 2
    assert 4 <= len(y) <= 20  # about 10 of the 38 negatives (each kept with probability 10 / 38)


def test_refine_is_for_attention_pool_only() -> None:
    with pytest.raises(ConfigError, match=r"train\.refine re-fits attention_pool"):
        load_config(values={"model.name": "stam", "data.store": "x"}, overrides=["train.refine=true"])
    assert load_config(values={"model.name": "attention_pool"}).train.refine  # its recommended setting


def small_run(store, folder: Path) -> Path:
    config = load_config(
        values={"data.store": str(store.root), "model.name": "attention_pool"},
        overrides=["train.epochs=3", "train.max_steps=0", "train.progress=false", "data.val_fraction=0.5"],
    )
    train(config, folder, verbose=False)
    return folder


def test_too_few_videos_per_class_keep_the_trained_model(embedded_features, tmp_path: Path) -> None:
    """2 training videos per class: the run says why it did not refine and model/ is the trained model."""
    _, store = embedded_features
    run = small_run(store, tmp_path / "run")
    assert json.loads((run / "run.json").read_text())["refinement"] == {
        "skipped": f"2 training videos in a class, fewer than {R.MIN_VIDEOS_PER_CLASS}"
    }
    assert from_pretrained(run / "model").model.build_kwargs["scorer"] == "gated"
    assert not (run / "model-trained").exists()
    assert R.too_few_videos([0] * 15 + [1] * 15, 2) is None and R.too_few_videos([0] * 20, 2) is not None


def test_a_real_run_is_refined_saved_and_resumed_the_same(
    embedded_features, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """attention_pool trained on the embedded benchmark's real cubes: model/ holds the refined linear-scorer model,
    model-trained/ the trained one, run.json the choices; resuming the finished run refines it again identically."""
    _, store = embedded_features
    monkeypatch.setattr(R, "MIN_VIDEOS_PER_CLASS", 2)  # this store's 2 training videos per class
    run = small_run(store, tmp_path / "run")
    refined, trained = from_pretrained(run / "model"), from_pretrained(run / "model-trained")
    assert refined.model.build_kwargs["scorer"] == "linear" and trained.model.build_kwargs["scorer"] == "gated"
    assert refined.model.build_kwargs["timing"] == "frame_gate" and trained.model.build_kwargs["timing"] == "joint"
    choices = json.loads((run / "run.json").read_text())["refinement"]
    assert choices["detector_l2"] in R.DETECTOR_L2 and choices["classifier_l2"] in R.CLASSIFIER_L2
    assert 1 <= choices["pseudo_positives_per_clip"] <= 8 * 49 and 0 <= choices["val_accuracy"] <= 1
    assert refined.config["extra"]["refinement"] == choices
    cube = store.load(store.records()[0].video_id)["rgb"][None]
    with torch.no_grad():
        out = refined.model(cube)
    assert math.isclose(float(out.temporal.sum()), 1.0, rel_tol=1e-5)
    before = {k: v.clone() for k, v in refined.model.state_dict().items()}
    resume_run(run, verbose=False)
    after = from_pretrained(run / "model").model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # benchmarks.refine_choice re-refines saved runs at other shares: at the default share it rebuilds model/
    rebuilt = refined_at(Run.read(run), R.PSEUDO_SHARE, seed=0, gate=R.GATE_SHARE).state_dict()
    assert all(torch.allclose(before[k], rebuilt[k], atol=1e-5) for k in before)


def test_with_detector_context_the_detector_reads_each_cell_beside_its_neighbourhood(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DETECTOR_CONTEXT: the detector's rows are [x_i ; n_i] (on the 2 x 2 grid n_i is the frame's mean cell), the
    refined model scores them with scorer="linear_context" and classifies with that attention; refine runs through
    the cross-check and the final fits on them."""
    monkeypatch.setattr(R, "DETECTOR_CONTEXT", True)
    teacher = build_model("attention_pool", num_classes=C, in_channels=D, grid=K)
    g = torch.Generator().manual_seed(4)
    detector = Linear(torch.randn(1, 2 * D, generator=g), torch.randn(1, generator=g))
    classifier = Linear(torch.randn(C, D, generator=g), torch.randn(C, generator=g))
    refined = R.refined_model(teacher, detector, classifier)
    assert refined.build_kwargs["scorer"] == "linear_context"
    rgb = cubes(0)
    clips = R.read_clips(refined, [batch(rgb.half(), [0, 1])])
    x = clips.cells.float().view(B, T, K * K, D)
    rows = clips.detector_rows.float().view(B, T, K * K, 2 * D)
    torch.testing.assert_close(rows[..., :D], x)
    torch.testing.assert_close(rows[..., D:], x.mean(2, keepdim=True).expand_as(x), atol=1e-3, rtol=1e-3)
    out = refined(rgb.half())
    torch.testing.assert_close(out.logits, classifier(R.attended(clips, detector)), atol=2e-3, rtol=2e-3)
    a = torch.stack([frame_gate_attention(detector(rows[b].flatten(0, 1))[:, 0].view(T, -1)) for b in range(B)])
    torch.testing.assert_close(out.temporal, a.sum(2), atol=1e-3, rtol=1e-3)

    trained = build_model("attention_pool", num_classes=2, in_channels=D, grid=K).eval()
    train = [batch(torch.rand(4, T, D, K, K, generator=g), [0, 1, 0, 1]) for _ in range(2)]
    val = [batch(torch.rand(4, T, D, K, K, generator=g), [0, 1, 1, 0])]
    assert R.refine(trained, train, val).model.build_kwargs["scorer"] == "linear_context"
