"""`explain` with a model that attends from optical flow (motion_alstm): the flow images are made from each sampled
frame and its neighbour, as extraction made them, and the explanation has the same shape as any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_explain_cli import SAMPLED, check_explanation, decode_all, train_small
from wherewhen.explain import FILES, Explainer, explain_to_folder, frames
from wherewhen.features import decoding


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
