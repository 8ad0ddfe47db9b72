"""Helpers of the `wherewhen serve` tests: the app on a test client, and following a job to its end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from wherewhen.serve import ServeConfig, create_app


def client_for(runs: Path, workdir: Path, data: tuple[Path, ...] = (), **options: Any) -> TestClient:
    return TestClient(create_app(ServeConfig(runs=(runs,), data=data, workdir=workdir, **options)))


def finished(client: TestClient, job: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """The job once it is no longer queued or running (polled as the page polls it)."""
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job['title']} still {job['state']} after {timeout} s"
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def video_ids(client: TestClient, split: str | None = None) -> list[str]:
    catalog = client.get("/api/catalog").json()
    return [
        v["id"] for s in catalog["stores"] if s["kind"] == "store" for v in s["videos"] if split in (None, v["split"])
    ]
