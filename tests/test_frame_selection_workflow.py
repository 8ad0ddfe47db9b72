"""Human frame selection end to end: frames marked on the page's API become the store's selection JSON, `wherewhen
train` trains lrcn_st with given temporal attention on it, and `wherewhen evaluate` and `wherewhen explain` of that
run hand the selection to the model (its temporal attention is exactly the chosen frames), as the page does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from serving import client_for, finished
from wherewhen.cli import main
from wherewhen.explain import FILES, load_explanation
from wherewhen.features.store import FeatureStore


@pytest.fixture(scope="module")
def chosen(
    trained_runs: Path, embedded_features: tuple[Path, FeatureStore], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[int]]]:
    """The selection file the page saved: rows of every training video and of one test video."""
    _, store = embedded_features
    records = store.records()
    wanted = {r.video_id: [2, 3] for r in records if r.split == "train"}
    wanted[next(r.video_id for r in records if r.split == "test")] = [1, 6]
    with client_for(trained_runs, tmp_path_factory.mktemp("selection_page")) as client:
        stores = client.get("/api/catalog").json()["stores"]
        sid = next(s["id"] for s in stores if s["kind"] == "store")
        for video_id, rows in wanted.items():
            saved = client.post(f"/api/selections/{sid}", json={"video": f"{sid}:{video_id}", "rows": rows}).json()
    assert f"--set data.frame_selection={saved['path']}" in saved["command"]
    return Path(saved["path"]), wanted


@pytest.fixture(scope="module")
def given_run(
    chosen: tuple[Path, dict[str, list[int]]],
    embedded_features: tuple[Path, FeatureStore],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    path, _ = chosen
    _, store = embedded_features
    run = tmp_path_factory.mktemp("given") / "runs" / "lrcn_given"
    sets = ["model.temporal=given", f"data.frame_selection={path}", "train.epochs=1", "data.val_fraction=0.5"]
    sets += ["train.progress=false", "model.reduce_dim=32", "model.hidden_size=32"]
    options = [x for s in sets for x in ("--set", s)]
    main(["train", "--data", str(store.root), "--model", "lrcn_st", *options, "--out", str(run), "--quiet"])
    return run


def test_the_page_saves_the_json_training_reads(chosen: tuple[Path, dict[str, list[int]]]) -> None:
    path, wanted = chosen
    assert json.loads(path.read_text()) == wanted


def test_evaluate_hands_the_selection_to_the_model(
    given_run: Path, chosen: tuple[Path, dict[str, list[int]]], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["evaluate", str(given_run)])
    assert "wrote" in capsys.readouterr().out
    metrics = json.loads((given_run / "eval-test" / "metrics.json").read_text())
    assert metrics["classification"]["videos"] == metrics["videos"] >= 2
    assert metrics["temporal"]["videos"] >= 1  # the segments come from the given attention


def test_explain_attends_to_the_chosen_frames(
    given_run: Path,
    chosen: tuple[Path, dict[str, list[int]]],
    embedded_features: tuple[Path, FeatureStore],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, wanted = chosen
    _, store = embedded_features
    test = next(r for r in store.records() if r.split == "test" and r.video_id in wanted)
    main(["explain", str(given_run), test.video, "-o", str(tmp_path / "run_selection"), "--device", "cpu"])
    weights = [f.weight for f in load_explanation(tmp_path / "run_selection" / FILES["json"]).frames]
    assert np.allclose(weights, [0.5 if row in (1, 6) else 0.0 for row in range(8)])

    other = tmp_path / "other.json"
    other.write_text(json.dumps({test.video_id: [4]}))
    main(["explain", str(given_run), test.video, "-o", str(tmp_path / "given"), "--selection", str(other)])
    weights = [f.weight for f in load_explanation(tmp_path / "given" / FILES["json"]).frames]
    assert weights == [0, 0, 0, 0, 1, 0, 0, 0]
    unchosen = next(r for r in store.records() if r.video_id not in wanted)
    main(["explain", str(given_run), unchosen.video, "-o", str(tmp_path / "none")])
    assert f"the frame selection has no rows for {unchosen.video_id}" in capsys.readouterr().err
    weights = [f.weight for f in load_explanation(tmp_path / "none" / FILES["json"]).frames]
    assert np.allclose(weights, 1 / 8)


def test_the_page_explains_the_frames_chosen_on_it(
    given_run: Path, embedded_features: tuple[Path, FeatureStore], tmp_path: Path
) -> None:
    _, store = embedded_features
    record = store.records()[0]
    with client_for(given_run.parent, tmp_path) as client:
        catalog = client.get("/api/catalog").json()
        assert [(r["model"], r["takes_selection"]) for r in catalog["runs"]] == [("lrcn_st", True)]
        sid = catalog["stores"][0]["id"]
        body = {"run": "r0", "video": f"{sid}:{record.video_id}", "chosen": [0, 5, 7]}
        result = finished(client, client.post("/api/explain", json=body).json())["result"]
    weights = [f["weight"] for f in result["explanation"]["frames"]]
    assert np.allclose(weights, [1 / 3 if row in (0, 5, 7) else 0.0 for row in range(8)])
    assert result["chosen"] == [0, 5, 7] and result["takes_selection"]
