"""`explain` with a model that attends from optical flow (motion_alstm): the flow images are made from each sampled
frame and its neighbour, as extraction made them, and the explanation has the same shape as any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_explain_cli import SAMPLED, check_explanation, decode_all
from wherewhen.datasets.benchmark import generate_benchmark
from wherewhen.datasets.benchmark.config import preset
from wherewhen.datasets.registry import read_dataset
from wherewhen.explain import FILES, Explainer, explain_to_folder
from wherewhen.features.extract import ExtractOptions, extract_videos
from wherewhen.train.config import load_config
from wherewhen.train.run import train
from wherewhen.video.sampling import SamplingSpec


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain-flow")
    knobs = {"classes": 6, "videos_per_class": 2, "frames": 24, "width": 96, "height": 96, "distractors": 2}
    generate_benchmark(root / "bench", preset("default").with_overrides(knobs), workers=1)
    index = read_dataset("embedded", root / "bench")
    options = ExtractOptions(sampling=SamplingSpec(frames=SAMPLED), flow="dis", progress=False, workers=1)
    assert extract_videos(index.records, root / "store", options, index.classes).written == 12
    small = ["model.reduce_dim=16", "model.hidden_channels=8", "model.attention_channels=8"]
    overrides = ["train.epochs=1", "train.progress=false", "model.name=motion_alstm", "train.device=cpu", *small]
    config = load_config(None, overrides, values={"data.store": str(root / "store")})
    return train(config, root / "run", verbose=False).run_dir


def test_motion_attention_explains_real_footage(flow_run: Path, bikes_mp4: Path, tmp_path: Path) -> None:
    explainer = Explainer.from_pretrained(flow_run, device="cpu")
    assert explainer.model.uses_flow and explainer.features.flow
    explanation, files = explain_to_folder(explainer, bikes_mp4, tmp_path / "out")
    check_explanation(explanation, bikes_mp4)
    for frame in explanation.frames:
        assert frame.attention.sum() == pytest.approx(1.0, abs=1e-4)  # a softmax over the grid per frame
    assert len(decode_all(files["video"])) == SAMPLED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES.values())
    assert explainer.explain(bikes_mp4).to_dict() == explanation.to_dict()  # the API gives the same
