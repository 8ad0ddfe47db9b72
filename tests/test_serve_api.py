"""`wherewhen serve`'s JSON API on Starlette's test client, with models trained here on the shared embedded
benchmark: the catalog, explanations as cached background jobs (cancellable, the server answering meanwhile), a
run's evaluation, and frame selections saved for a store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serving import client_for, finished, video_ids
from wherewhen.cli import main
from wherewhen.features.store import FeatureStore
from wherewhen.models.attention_pool import AttentionPooling


@pytest.fixture(scope="module")
def served(
    trained_runs: Path, embedded_features: tuple[Path, FeatureStore], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Path]]:
    bench, _ = embedded_features
    workdir = tmp_path_factory.mktemp("serve_api")
    with client_for(trained_runs, workdir, data=(bench,)) as client:
        yield client, workdir


def test_the_catalog_lists_runs_stores_and_videos(
    served: tuple[TestClient, Path], embedded_features: tuple[Path, FeatureStore]
) -> None:
    client, _ = served
    bench, store = embedded_features
    catalog = client.get("/api/catalog").json()
    assert [(r["id"], r["name"], r["model"]) for r in catalog["runs"]] == [
        ("r0", "runs/attention_pool", "attention_pool"),
        ("r1", "runs/lstm_avg", "lstm_avg"),
    ]
    kinds = {s["kind"]: s for s in catalog["stores"]}
    assert set(kinds) == {"store", "benchmark"} and kinds["benchmark"]["name"] == bench.name
    assert sorted(v["id"].split(":", 1)[1] for v in kinds["store"]["videos"]) == sorted(
        r.video_id for r in store.records()
    )
    assert catalog["limits"]["max_upload_bytes"] == 512 << 20 and catalog["uploads"] == []
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert "export class Panel" in client.get("/static/panel.js").text


def test_an_explanation_is_a_job_and_a_second_view_is_instant(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    video = video_ids(client, "test")[0]
    job = finished(client, client.post("/api/explain", json={"run": "r0", "video": video}).json())
    assert job["state"] == "done" and job["progress"] == 1.0, job
    result = job["result"]
    explanation = result["explanation"]
    assert result["mode"] == "whole" and len(explanation["frames"]) == 8  # the store's 8 rows, as in training
    assert explanation["label"] == explanation["top5"][0][0] and explanation["model"] == "attention_pool"
    assert result["truth_line"].startswith("attention peak inside the ground-truth box in ")
    assert [row[0] for row in result["detections"]] == [Path(explanation["video"]["path"]).name] * len(
        explanation["segments"]
    )
    preview = client.get(result["preview"], headers={"Range": "bytes=0-99"})
    assert preview.status_code == 206 and len(preview.content) == 100 and preview.content[4:8] == b"ftyp"

    again = client.post("/api/explain", json={"run": "r0", "video": video}).json()
    assert (again["id"], again["state"]) == (job["id"], "done")
    other = client.post("/api/explain", json={"run": "r1", "video": video}).json()
    assert other["id"] != job["id"]  # another model is another job
    assert finished(client, other)["result"]["explanation"]["model"] == "lstm_avg"


def test_a_restarted_server_reads_the_explanation_back(served: tuple[TestClient, Path], trained_runs: Path) -> None:
    client, workdir = served
    video = video_ids(client, "test")[0]
    first = finished(client, client.post("/api/explain", json={"run": "r0", "video": video}).json())
    with client_for(trained_runs, workdir) as restarted:
        started = time.perf_counter()
        job = restarted.post("/api/explain", json={"run": "r0", "video": video}).json()
        assert time.perf_counter() - started < 1.0
    assert (job["state"], job["message"]) == ("done", "done (cached)")
    assert job["result"] == first["result"]


def test_a_cached_result_made_under_another_box_threshold_is_made_anew(
    served: tuple[TestClient, Path], trained_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, workdir = served
    video = video_ids(client, "test")[0]
    first = finished(client, client.post("/api/explain", json={"run": "r0", "video": video}).json())
    evaluation = finished(client, client.post("/api/evaluate", json={"run": "r0"}).json())
    # r0 is attention_pool as trained (too few videos per class to refine): the gated scorer's threshold
    assert first["result"]["explanation"]["box_threshold"] == AttentionPooling.box_thresholds["gated"]
    changed = AttentionPooling.box_thresholds | {"gated": 0.9}  # a release that changes the model's decoding
    monkeypatch.setattr(AttentionPooling, "box_thresholds", changed)
    with client_for(trained_runs, workdir) as upgraded:
        again = finished(upgraded, upgraded.post("/api/explain", json={"run": "r0", "video": video}).json())
        rescored = finished(upgraded, upgraded.post("/api/evaluate", json={"run": "r0"}).json())
    assert again["message"] != "done (cached)" and again["result"]["explanation"]["box_threshold"] == 0.9
    assert rescored["message"] != "done (cached)" and rescored["id"] != evaluation["id"]
    assert any("keeps values >= 0.9;" in line for line in rescored["result"]["metrics"]["protocol"])


def test_the_server_answers_while_a_job_runs_and_the_job_can_be_cancelled(
    served: tuple[TestClient, Path], long_video: Path
) -> None:
    client, _ = served
    stored = client.post("/api/upload", content=long_video.read_bytes(), headers={"X-Filename": "long.mp4"})
    assert stored.status_code == 201, stored.text
    body = {"run": "r0", "video": stored.json()["id"], "sliding": "on"}
    job = client.post("/api/explain", json=body).json()
    deadline = time.monotonic() + 60
    while "sliding clips" not in job["message"]:
        assert time.monotonic() < deadline and job["state"] in ("queued", "running"), job
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    started = time.perf_counter()
    assert client.get("/api/catalog").status_code == 200
    assert time.perf_counter() - started < 1.0  # the request did not wait for the job
    assert client.post(f"/api/jobs/{job['id']}/cancel").json()["state"] in ("running", "cancelled")
    job = finished(client, job)
    assert job["state"] == "cancelled" and job["result"] is None
    assert 0.05 < job["progress"] < 0.75  # stopped part way through the sliding clips
    assert client.post("/api/explain", json=body).json()["id"] != job["id"]  # asking again starts afresh
    client.post(f"/api/jobs/{client.post('/api/explain', json=body).json()['id']}/cancel")


def test_a_runs_evaluation_with_its_test_videos(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    job = finished(client, client.post("/api/evaluate", json={"run": "r0"}).json())
    assert job["state"] == "done", job
    result = job["result"]
    catalog_ids = set(video_ids(client))
    videos = result["videos"]
    assert result["split"] == "test" and len(videos) == result["metrics"]["videos"] >= 2
    for v in videos:
        assert v["video"] in catalog_ids and v["correct"] == (v["label"] == v["predicted"])
        assert 0 < v["confidence"] <= 1 and v["frames_with_box"] >= 1
        assert 0 <= v["pointing"] <= 1 and 0 <= v["segment_weight"] <= 1
    image = client.get(result["confusion"])
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    per_class = result["metrics"]["classification"]["per_class"]
    assert [row["class"] for row in per_class] == ["Cat", "Coffee"]


def test_the_evaluation_is_the_one_of_wherewhen_evaluate(
    served: tuple[TestClient, Path], trained_runs: Path, tmp_path: Path
) -> None:
    client, _ = served
    result = finished(client, client.post("/api/evaluate", json={"run": "r0"}).json())["result"]
    main(["evaluate", str(trained_runs / "attention_pool"), "--out", str(tmp_path / "eval")])
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for key in ("classification", "spatial", "temporal", "protocol", "videos"):
        assert result["metrics"][key] == metrics[key]


def test_frame_selections_are_saved_for_the_store(served: tuple[TestClient, Path]) -> None:
    client, workdir = served
    first, second = video_ids(client, "train")[:2]
    store = first.split(":", 1)[0]
    info = client.get("/api/video", params={"id": first}).json()
    assert info["selectable"] and len(info["rows"]) == 8 and info["chosen"] is None

    saved = client.post(f"/api/selections/{store}", json={"video": first, "rows": [3, 2, 3]}).json()
    saved = client.post(f"/api/selections/{store}", json={"video": second, "rows": [5]}).json()
    path = Path(saved["path"])
    assert path.parent == (workdir / "selections").resolve()
    assert json.loads(path.read_text()) == {first.split(":", 1)[1]: [2, 3], second.split(":", 1)[1]: [5]}
    assert f"--set data.frame_selection={path}" in saved["command"] and "--model lrcn_st" in saved["command"]
    assert client.get("/api/video", params={"id": first}).json()["chosen"] == [2, 3]
    client.post(f"/api/selections/{store}", json={"video": second, "rows": []})
    assert list(json.loads(path.read_text())) == [first.split(":", 1)[1]]

    bad = client.post(f"/api/selections/{store}", json={"video": first, "rows": [8]})
    assert (bad.status_code, bad.json()) == (400, {"error": "row 8 is not one of the video's 8 cube rows"})
    catalog = client.get("/api/catalog").json()
    bench_video = next(s for s in catalog["stores"] if s["kind"] == "benchmark")["videos"][0]["id"]
    refused = client.post(f"/api/selections/{store}", json={"video": bench_video, "rows": [1]})
    assert refused.status_code == 400 and "pick a video of a feature store" in refused.json()["error"]
