"""What the page may name: the runs, the stores and benchmark folders and their videos, and the uploads.

The client names everything by an id made here (``r0``, ``s<8 hex digits>``, ``s<8 hex digits>:<video id>``,
``u:<32 hex digits>``); an id is looked up in these tables and never joined to a path, so no client string reaches
the filesystem. A store id is a digest of the store's path, so it stays the same across restarts. A store video's
file is the one its record names (the store's manifest, or the benchmark's annotation), wherever it lies.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from wherewhen.datasets.registry import read_dataset
from wherewhen.errors import WherewhenError
from wherewhen.evaluate.runner import read_run
from wherewhen.explain.truth import folder_kind, store_records
from wherewhen.models import build_model
from wherewhen.models.inputs import FRAME_MASK, declared_inputs
from wherewhen.models.pretrained import read_model_config
from wherewhen.models.registry import saved_kwargs
from wherewhen.serve.config import ServeConfig
from wherewhen.serve.jobs import LOG

UPLOAD_ID = re.compile(r"u:([0-9a-f]{32})")
UPLOAD_SUFFIX = ".video"


class NotFound(WherewhenError):
    """An id the catalog does not hold (a 404 for the page)."""


@dataclass(frozen=True)
class RunEntry:
    id: str
    name: str
    path: Path
    model: str
    classes: list[str]
    store: Path | None
    takes_selection: bool = False  # the model declares the frame-mask input (``models.inputs``)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model,
            "classes": self.classes,
            "takes_selection": self.takes_selection,
        }


@dataclass(frozen=True)
class VideoEntry:
    id: str
    path: Path
    name: str
    label: str | None = None
    split: str | None = None
    store: str | None = None  # the id of its store or benchmark folder
    video_id: str | None = None  # its id there
    rows: list[int] = field(default_factory=list)  # the frame indices of its cube rows (stores only)
    fps: float | None = None

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "split": self.split, "store": self.store}


@dataclass(frozen=True)
class StoreEntry:
    id: str
    name: str
    root: Path
    kind: str  # "store" or "benchmark"

    @cached_property
    def videos(self) -> dict[str, VideoEntry]:
        """Its videos by id; none, with a line in the server's log, when the folder cannot be read."""
        try:
            return store_videos(self) if self.kind == "store" else benchmark_videos(self)
        except (WherewhenError, OSError) as exc:
            LOG.warning("no videos from %s: %s", self.root, exc)
            return {}

    def describe(self) -> dict[str, Any]:
        listed = sorted(self.videos.values(), key=lambda v: (v.split or "", v.name))
        return {"id": self.id, "name": self.name, "kind": self.kind, "videos": [v.describe() for v in listed]}


def store_videos(store: StoreEntry) -> dict[str, VideoEntry]:
    out = {}
    for r in store_records(store.root):
        ref = f"{store.id}:{r.video_id}"
        name = Path(r.video).name
        out[ref] = VideoEntry(ref, Path(r.video), name, r.label, r.split, store.id, r.video_id, r.frame_indices, r.fps)
    return out


def benchmark_videos(store: StoreEntry) -> dict[str, VideoEntry]:
    out = {}
    for r in read_dataset("embedded", store.root).records:
        ref = f"{store.id}:{r.video_id}"
        out[ref] = VideoEntry(ref, Path(r.path), Path(r.path).name, r.label, r.split, store.id, r.video_id)
    return out


class Catalog:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.runs = {run.id: run for run in find_runs(config.runs)}
        self.stores: dict[str, StoreEntry] = {}
        wanted = [*config.data, *(run.store for run in self.runs.values() if run.store is not None)]
        for root in wanted:
            self.add_store(Path(root))
        self.uploads = config.folder("uploads")

    def add_store(self, root: Path) -> None:
        root = root.expanduser().resolve()
        kind = folder_kind(root) if root.is_dir() else None
        if kind is None or any(s.root == root for s in self.stores.values()):
            return
        sid = f"s{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"  # the same whatever else is served
        self.stores[sid] = StoreEntry(sid, root.name, root, kind)

    def run(self, ref: object) -> RunEntry:
        if not isinstance(ref, str) or ref not in self.runs:
            raise NotFound(f"no run {str(ref)[:40]!r}; pick one from the list")
        return self.runs[ref]

    def store(self, ref: object) -> StoreEntry:
        if not isinstance(ref, str) or ref not in self.stores:
            raise NotFound(f"no store {str(ref)[:40]!r}; pick one from the list")
        return self.stores[ref]

    def video(self, ref: object) -> VideoEntry:
        """The video of an id: an upload, or a video of a store or benchmark folder."""
        text = ref if isinstance(ref, str) else ""
        upload = UPLOAD_ID.fullmatch(text)
        if upload is not None:
            return self.upload(upload.group(1))
        store = self.stores.get(text.split(":", 1)[0])
        video = None if store is None else store.videos.get(text)
        if video is None:
            raise NotFound(f"no video {text[:60]!r}; pick one from the list or upload one")
        return video

    def upload(self, name: str) -> VideoEntry:
        path = self.uploads / f"{name}{UPLOAD_SUFFIX}"
        if not path.is_file():
            raise NotFound("no such upload; upload the video again")
        meta = upload_meta(path)
        return VideoEntry(f"u:{name}", path, str(meta.get("name") or "upload"), fps=meta.get("fps"))

    def upload_list(self) -> list[dict[str, Any]]:
        found = sorted(self.uploads.glob(f"*{UPLOAD_SUFFIX}"), key=lambda p: p.stat().st_mtime)
        return [self.upload(p.stem).describe() for p in found if re.fullmatch(r"[0-9a-f]{32}", p.stem)]


def upload_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_runs(roots: tuple[Path, ...]) -> list[RunEntry]:
    """The run folders (with a saved model) at or up to two levels below each root, ids in the order found."""
    found: list[Path] = []
    for root in roots:
        root = Path(root).expanduser().resolve()
        candidates = [root, *sorted(root.glob("*")), *sorted(root.glob("*/*"))]
        found += [p for p in candidates if is_run(p) and p not in found]
    return [run_entry(f"r{i}", path, roots) for i, path in enumerate(found)]


def is_run(path: Path) -> bool:
    return (path / "run.json").is_file() and (path / "model" / "config.json").is_file()


def run_entry(ref: str, path: Path, roots: tuple[Path, ...]) -> RunEntry:
    run = read_run(path)
    names = [str(path.relative_to(r.resolve().parent)) for r in roots if path.is_relative_to(r.resolve().parent)]
    store = run.get("store") or run.get("data")
    classes = [str(c) for c in run.get("classes") or []]
    return RunEntry(
        ref,
        min(names, key=len) if names else path.name,
        path,
        str(run.get("model")),
        classes,
        Path(store) if isinstance(store, str) and store else None,
        FRAME_MASK in model_inputs(path / "model"),
    )


def model_inputs(model_dir: Path) -> tuple[str, ...]:
    """The extra inputs the saved model declares, from its config.json (the model is built without its weights)."""

    config = read_model_config(model_dir)
    model = build_model(
        str(config["model"]), num_classes=int(config["num_classes"]), in_channels=int(config["in_channels"]),
        grid=int(config["grid"]), **saved_kwargs(str(config["model"]), dict(config.get("build_kwargs") or {})),
    )  # fmt: skip
    return declared_inputs(model)
