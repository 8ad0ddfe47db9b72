"""Human frame selections saved from the page: per feature store, the JSON ``lrcn_st`` with ``temporal="given"``
trains on (``data.frame_selection``; ``{"<video id>": [0-based cube rows], ...}``, ``features.frame_selection``).

Each store's selection is ``selections/<store folder name>.json`` in the server's working folder (a store of the
same name elsewhere gets ``-2``, ``-3``, ...); saving one video's rows rewrites the file atomically with the others
kept; no rows removes the video.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from pathlib import Path
from typing import Any

from wherewhen.atomic import atomic_write_text
from wherewhen.errors import ConfigError
from wherewhen.features.frame_selection import load_frame_selection
from wherewhen.serve.catalog import Catalog, StoreEntry

OWNER = ".store"  # beside each selection file: the store it belongs to


class Selections:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.folder = catalog.config.folder("selections")
        self._lock = threading.Lock()

    def path(self, store: StoreEntry) -> Path:
        """The selection file of ``store``: its folder's name, made safe, numbered when another store has it."""
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", store.name).strip("._") or "store"
        for n in range(1, 1000):
            path = self.folder / (f"{base}.json" if n == 1 else f"{base}-{n}.json")
            owner = path.with_suffix(OWNER)
            if not owner.exists():
                atomic_write_text(owner, str(store.root))
                return path
            if owner.read_text(encoding="utf-8") == str(store.root):
                return path
        raise ConfigError(f"too many selection files named {base}")

    def load(self, store: StoreEntry) -> dict[str, list[int]]:
        path = self.path(store)
        if not path.is_file():
            return {}

        return load_frame_selection(path)

    def save(self, store_ref: object, video_ref: object, rows: object) -> dict[str, Any]:
        """Keep ``rows`` (cube rows of the store's record) as the selection of one store video."""
        store = self.catalog.store(store_ref)
        video = self.catalog.video(video_ref)
        if store.kind != "store" or video.store != store.id or video.video_id is None:
            raise ConfigError("frame selections name cube rows: pick a video of a feature store")
        if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in rows):
            raise ConfigError("rows must be a list of 0-based cube rows")
        bad = [r for r in rows if not 0 <= r < len(video.rows)]
        if bad:
            raise ConfigError(f"row {bad[0]} is not one of the video's {len(video.rows)} cube rows")
        with self._lock:
            selection = self.load(store)
            if rows:
                selection[video.video_id] = sorted(set(rows))
            else:
                selection.pop(video.video_id, None)
            path = self.path(store)
            atomic_write_text(path, json.dumps(selection, indent=1, sort_keys=True) + "\n")
        return self.describe(store, selection)

    def describe(self, store: StoreEntry, selection: dict[str, list[int]] | None = None) -> dict[str, Any]:
        selection = self.load(store) if selection is None else selection
        path = self.path(store)
        command = [
            "wherewhen", "train", "--data", str(store.root), "--model", "lrcn_st",
            "--set", "model.temporal=given", "--set", f"data.frame_selection={path}",
        ]  # fmt: skip
        return {"store": store.id, "path": str(path), "selection": selection, "command": shlex.join(command)}
