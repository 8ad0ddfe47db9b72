"""`explain` with a model that attends from optical flow (motion_alstm): the flow images are made from each sampled
frame and its neighbour, as extraction made them, and the explanation has the same shape as any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_explain_cli import SAMPLED, check_explanation, decode_all, train_small
from wherewhen.explain import FILES, Explainer, explain_to_folder, frames
from wherewhen.features import decoding
from wherewhen.train import load_config, train


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    small = ["model.reduce_dim=16", "model.hidden_channels=8", "model.attention_channels=8"]
    return train_small(tmp_path_factory.mktemp("explain-flow"), ["model.name=motion_alstm", *small], "dis", epochs=1)


def test_motion_attention_explains_real_footage(
    flow_run: Path, bikes_mp4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explainer = Explainer.from_pretrained(flow_run, device="cpu")
    assert explainer.model.uses_flow and explainer.features.flow
    passes = []  # every pass over the video: the frames, their flow partners and the display frames in one
    for module in (decoding, frames):
        name = "iter_frames" if module is decoding else "read_frames"
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, original=original, **k: passes.append(a[1]) or original(*a, **k))
    explanation, files = explain_to_folder(explainer, bikes_mp4, tmp_path / "out")
    assert len(passes) == 1 and len(set(passes[0])) == 2 * SAMPLED
    monkeypatch.undo()
    check_explanation(explanation, bikes_mp4)
    for frame in explanation.frames:
        assert frame.attention.sum() == pytest.approx(1.0, abs=1e-4)  # a softmax over the grid per frame
    assert len(decode_all(files["video"])) == SAMPLED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES.values())
    assert explainer.explain(bikes_mp4).to_dict() == explanation.to_dict()  # the API gives the same


def test_a_model_that_reads_no_flow_skips_the_flow_of_its_store(
    flow_run: Path, bikes_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store extracted with flow serves every model. Explaining with one that reads no flow decodes the sampled
    frames only (no flow partners, no second backbone pass) and explains exactly as with the flow made."""
    overrides = ["model.name=lstm_avg", "train.epochs=1", "train.progress=false", "train.device=cpu"]
    config = load_config(None, overrides, values={"data.store": str(flow_run.parent / "store")})
    run = train(config, flow_run.parent / "run-rgb", verbose=False).run_dir
    explainer = Explainer.from_pretrained(run, device="cpu")
    assert explainer.features.flow and not explainer._reads_flow
    passes = []
    original = decoding.iter_frames
    monkeypatch.setattr(decoding, "iter_frames", lambda *a, **k: passes.append(a[1]) or original(*a, **k))
    explanation = explainer.explain(bikes_mp4)
    assert len(passes) == 1 and len(set(passes[0])) == SAMPLED
    monkeypatch.undo()
    explainer._reads_flow = True  # as before: flow images made and embedded, then not read by the model
    assert explainer.explain(bikes_mp4).to_dict() == explanation.to_dict()


def test_the_default_model_reads_the_flow_its_store_was_extracted_with(
    flow_run: Path, bikes_mp4: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wherewhen train` without --model on a store with flow cubes trains attention_pool on both streams (saved as
    flow=True, so evaluation and explanation rebuild it so); model.flow=false keeps it on RGB."""
    store = flow_run.parent / "store"
    runs = {}
    for name, extra in (("default", []), ("rgb", ["model.flow=false"])):
        overrides = ["train.epochs=1", "train.progress=false", "train.device=cpu", *extra]
        config = load_config(None, overrides, values={"data.store": str(store)})
        runs[name] = train(config, flow_run.parent / f"run-attention-pool-{name}", verbose=True).run_dir
        said = "training attention_pool on RGB and flow in" in capsys.readouterr().err
        assert said == (name == "default")
    explainer = Explainer.from_pretrained(runs["default"], device="cpu")
    assert explainer.model.name == "attention_pool" and explainer.model.uses_flow and explainer._reads_flow
    assert explainer.model.build_kwargs["flow"] is True
    check_explanation(explainer.explain(bikes_mp4), bikes_mp4)
    rgb = Explainer.from_pretrained(runs["rgb"], device="cpu")
    assert not rgb.model.uses_flow and not rgb._reads_flow
