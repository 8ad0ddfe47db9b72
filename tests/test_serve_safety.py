"""`wherewhen serve`'s limits: uploads bounded in size and kept only when they decode as video, under generated
names; no path from the client reaches the filesystem; a bad request is a one-line error and the server goes on."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serving import client_for, video_ids
from wherewhen.errors import ConfigError
from wherewhen.features.store import FeatureStore
from wherewhen.serve import ServeConfig

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(trained_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    workdir = tmp_path_factory.mktemp("serve_safety")
    with client_for(trained_runs, workdir, max_upload_bytes=LIMIT) as client:
        yield client, workdir


def upload(client: TestClient, content: object, name: str = "clip.mp4") -> tuple[int, dict]:
    response = client.post("/api/upload", content=content, headers={"X-Filename": name})  # type: ignore[arg-type]
    return response.status_code, response.json()


def left_in(workdir: Path) -> list[str]:
    return sorted(p.name for p in (workdir / "uploads").iterdir())


def test_an_upload_over_the_limit_is_refused_and_nothing_stays(served: tuple[TestClient, Path]) -> None:
    client, workdir = served
    before = left_in(workdir)
    status, body = upload(client, b"\0" * (LIMIT + 1), "big.mp4")  # the declared length is refused at once
    assert (status, body) == (413, {"error": "big.mp4 is 0.1 MB; uploads are limited to 0.0625 MB"})

    def chunks() -> Iterator[bytes]:  # no declared length: counted as it streams in
        for _ in range(8):
            yield b"\0" * (LIMIT // 4)

    status, body = upload(client, chunks(), "streamed.mp4")
    assert (status, body) == (413, {"error": "streamed.mp4 is larger than the 0.0625 MB uploads are limited to"})
    assert left_in(workdir) == before  # no partial file kept
    assert client.get("/api/catalog").status_code == 200
    with pytest.raises(ConfigError, match="--max-upload-mb must be positive"):
        ServeConfig(runs=(), max_upload_bytes=0)


def test_only_what_decodes_as_video_is_kept_under_a_generated_name(
    served: tuple[TestClient, Path], embedded_features: tuple[Path, FeatureStore]
) -> None:
    client, workdir = served
    status, body = upload(client, os.urandom(20_000), "holiday.mp4")
    assert status == 400 and body["error"].startswith("holiday.mp4 is not a video this server can decode (")
    assert upload(client, b"", "empty.mp4") == (400, {"error": "empty.mp4 is empty"})
    real = next(embedded_features[0].glob("videos/*/*.mp4")).read_bytes()
    status, body = upload(client, real[: len(real) // 3], "cut.mp4")  # a real video's first third
    assert status == 400 and "cut.mp4 is not a video this server can decode" in body["error"]
    assert left_in(workdir) == []
    assert client.get("/api/catalog").status_code == 200  # the server goes on

    status, body = upload(client, real, "..%2F..%2Fnotes.txt")  # a video whatever its name says
    assert status == 201 and body["name"] == "notes.txt" and body["info"]["frames"] == 16
    key = re.fullmatch(r"u:([0-9a-f]{32})", body["id"]).group(1)  # type: ignore[union-attr]
    assert left_in(workdir) == [f"{key}.json", f"{key}.video"]
    assert (workdir / "uploads" / f"{key}.video").read_bytes() == real
    assert not (workdir.parent / "notes.txt").exists()
    catalog = client.get("/api/catalog").json()
    assert catalog["uploads"] == [{"id": body["id"], "name": "notes.txt", "label": None, "split": None, "store": None}]


@pytest.mark.parametrize(
    "url",
    [
        "/media/previews/../../../etc/passwd",
        "/media/previews/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/previews/" + "0" * 32 + ".mp4",
        "/media/previews/%2e%2e%2fconfig.json",
        "/media/eval/..%2F..%2Fuploads/confusion.png",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/api/video?id=/etc/passwd",
        "/api/video?id=..%2F..%2Fetc%2Fpasswd",
        "/api/video?id=u:../../etc/passwd",
        "/api/video?id=u:" + "0" * 32,
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        "/api/selections/..%2F..%2Fetc",
    ],
)
def test_no_client_path_reaches_the_filesystem(served: tuple[TestClient, Path], url: str) -> None:
    client, _ = served
    response = client.get(url)
    assert response.status_code == 404, (url, response.status_code, response.text[:200])
    assert "root:" not in response.text and "[project]" not in response.text


def test_requests_name_only_what_the_catalog_holds(
    served: tuple[TestClient, Path], trained_runs: Path, embedded_features: tuple[Path, FeatureStore]
) -> None:
    client, _ = served
    video = video_ids(client)[0]
    bodies = [
        {"run": str(trained_runs / "attention_pool"), "video": video},
        {"run": "r0", "video": str(next(embedded_features[0].glob("videos/*/*.mp4")))},
        {"run": "r0", "video": video.split(":")[0] + ":../" + video.split(":")[1]},
    ]
    for body in bodies:
        response = client.post("/api/explain", json=body)
        assert response.status_code == 404 and response.json()["error"].startswith("no "), body
    for body, message in [
        ({"run": "r0", "video": video, "sliding": "sideways"}, "sliding must be one of auto, on, off, got 'sideways'"),
        ({"run": "r0", "video": video, "window": 0}, "window must be a whole number of rows, at least 1"),
        ({"run": "r0", "video": video, "chosen": ["x"]}, "chosen must be a non-empty list of 0-based cube rows"),
    ]:
        assert client.post("/api/explain", json=body).json() == {"error": message}
    assert client.post("/api/explain", content=b"[1, 2]").json() == {"error": "the request body must be a JSON object"}
    assert client.post("/api/evaluate", json={"run": "r0", "split": "../x"}).status_code == 400
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400  # no DNS rebinding to a local server
    assert client.get("/api/catalog").status_code == 200
