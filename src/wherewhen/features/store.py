"""On-disk feature store: one safetensors file per video, a JSON Lines manifest, atomic writes.

Layout of a store folder::

    store.json                   what made the cubes (backbone, input size, sampling, classes)
    features/<video_id>.safetensors   "rgb": float16 (T, D, K, K), optional "flow"; header holds the record
    manifest.jsonl               one FeatureRecord per finished video, rebuilt from the file headers
    failures/<video_id>.json     videos that could not be read, with the one-line error

A file under ``features/`` only ever appears complete (written to a temporary name, then renamed), so a killed
job never leaves a half-written file that looks finished; the next extraction into the store deletes the temporary
files such a job left (``atomic.remove_stale_temporaries``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from wherewhen.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from wherewhen.errors import FeatureStoreError

STORE_FORMAT = "wherewhen-features/1"
FEATURE_SUFFIX = ".safetensors"
# How a decoded frame becomes the backbone's input. "centred-square": the square of the original frame that a
# centre crop after the shorter-side resize keeps is cut first, then area-resized (``video.transforms.CenterSquare``).
# Stores and models from before the tag used "resize-then-crop" (FFmpeg scaled the whole frame, then the crop): the
# pixels differ by resampling, so cubes of the two kinds are not mixed in one store or one resumed run.
PREPROCESSING = "centred-square"
LEGACY_PREPROCESSING = "resize-then-crop"


@dataclass
class StoreInfo:
    """What every cube in a store shares. Two extraction runs into one folder must agree on it."""

    backbone: str
    input_size: int
    grid: int
    channels: int
    sampling: dict[str, Any]
    flow: bool = False
    dtype: str = "float16"
    classes: list[str] = field(default_factory=list)
    format: str = STORE_FORMAT
    preprocessing: str = PREPROCESSING

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreInfo:
        """From its JSON form (store.json, a run's or a saved model's "features"); unknown keys are ignored, and a
        description without "preprocessing" was written before the tag existed (``LEGACY_PREPROCESSING``).
        Raises TypeError when a required field is missing."""
        known = {f.name for f in fields(cls)}
        return cls(**({"preprocessing": LEGACY_PREPROCESSING} | {k: v for k, v in data.items() if k in known}))

    def compatible_with(self, other: StoreInfo) -> list[str]:
        """Names of the fields that differ in a way that makes the cubes incomparable."""
        keys = ("backbone", "input_size", "grid", "channels", "sampling", "flow", "dtype", "preprocessing")
        return [k for k in keys if getattr(self, k) != getattr(other, k)]


def drop_stale_store(folder: str | Path) -> str | None:
    """Delete the store in ``folder`` when this version would make its cubes differently (extraction resumes into
    an existing store, so it would be reused as it is); returns its preprocessing then, else None (also when there
    is no store)."""
    store = FeatureStore(folder)
    if not store.info_path.is_file() or store.info.preprocessing == PREPROCESSING:
        return None
    made = store.info.preprocessing
    shutil.rmtree(store.root)
    return made


@dataclass
class FeatureRecord:
    """One video in the store: where its cube came from and its annotations in original pixels/seconds.

    frame_indices: decoded frame numbers of the T cube rows, in time order.
    clips:         lists of row positions forming each clip (one clip of all rows unless sliding windows).
    crop:          (x, y, w, h) in original pixels: the frame region the K x K grid covers.
    boxes:         per cube row, the ground-truth box (x1, y1, x2, y2) in original pixels, or None.
    segments:      ground-truth temporal segments (start s, end s, label).
    """

    video_id: str
    video: str
    label: str | None
    split: str
    group: str | None
    frame_indices: list[int]
    clips: list[list[int]]
    fps: float
    num_frames: int
    duration: float
    frame_size: tuple[int, int]
    crop: tuple[float, float, float, float]
    segments: list[tuple[float, float, str | None]] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float] | None] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FeatureRecord:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        rec = cls(**{k: v for k, v in data.items() if k in known})
        rec.frame_size = tuple(rec.frame_size)  # type: ignore[assignment]
        rec.crop = tuple(rec.crop)  # type: ignore[assignment]
        rec.segments = [tuple(s) for s in rec.segments]  # type: ignore[misc]
        rec.boxes = [None if b is None else tuple(b) for b in rec.boxes]  # type: ignore[misc]
        return rec

    @property
    def times(self) -> list[float]:
        """Time in seconds of each cube row."""
        return [i / self.fps for i in self.frame_indices]


class FeatureStore:
    """Read and write a feature store folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.features_dir = self.root / "features"
        self.failures_dir = self.root / "failures"
        self.manifest_path = self.root / "manifest.jsonl"
        self.info_path = self.root / "store.json"

    # ---- creation and metadata -------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, info: StoreInfo) -> FeatureStore:
        """Open ``root`` for writing cubes described by ``info``; an existing store must agree with it."""
        store = cls(root)
        if store.info_path.exists():
            existing = store.info
            diff = existing.compatible_with(info)
            if diff:
                raise FeatureStoreError(
                    store.info_path,
                    f"this store was made with different {', '.join(diff)}; write to another folder or delete this one",
                )
            if info.classes and existing.classes and info.classes != existing.classes:
                raise FeatureStoreError(store.info_path, "class list differs from the one this store was made with")
        else:
            store.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(store.info_path, json.dumps(asdict(info), indent=2))
        store.features_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(store.root)
        return store

    @property
    def info(self) -> StoreInfo:
        if not self.info_path.exists():
            raise FeatureStoreError(self.root, "not a feature store (no store.json); run `wherewhen extract` first")
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
            return StoreInfo.from_dict(data)
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise FeatureStoreError(self.info_path, f"unreadable store description ({exc})") from None

    # ---- per-video files ----------------------------------------------------------------------------
    def path_for(self, video_id: str) -> Path:
        return self.features_dir / f"{video_id}{FEATURE_SUFFIX}"

    def is_done(self, video_id: str, need_flow: bool = False) -> bool:
        """True when a complete, readable feature file exists for the video."""
        path = self.path_for(video_id)
        if not path.exists():
            return False
        try:
            with safe_open(str(path), framework="pt") as f:
                keys = set(f.keys())
        except (SafetensorError, OSError, ValueError):
            return False
        return "rgb" in keys and (not need_flow or "flow" in keys)

    def write(self, record: FeatureRecord, rgb: Tensor, flow: Tensor | None = None) -> Path:
        """Write one video's cubes atomically (float16, contiguous) and clear any earlier failure."""
        tensors = {"rgb": rgb.detach().to("cpu", torch.float16).contiguous()}
        if flow is not None:
            tensors["flow"] = flow.detach().to("cpu", torch.float16).contiguous()
        final = self.path_for(record.video_id)
        with atomic_path(final) as tmp:
            save_file(tensors, str(tmp), metadata={"record": record.to_json()})
        failure = self.failures_dir / f"{record.video_id}.json"
        if failure.exists():
            failure.unlink()
        return final

    def load(self, video_id: str, keys: Iterable[str] = ("rgb",)) -> dict[str, Tensor]:
        """Read the named tensors of one video; a truncated or foreign file gives a FeatureStoreError."""
        path = self.path_for(video_id)
        if not path.exists():
            raise FeatureStoreError(path, "feature file is missing; re-run `wherewhen extract` on this store")
        try:
            with safe_open(str(path), framework="pt") as f:
                present = set(f.keys())
                missing = [k for k in keys if k not in present]
                if missing:
                    raise FeatureStoreError(path, f"has no {', '.join(missing)} cubes (extract with --flow?)")
                return {k: f.get_tensor(k) for k in keys}
        except (SafetensorError, OSError, ValueError) as exc:
            raise FeatureStoreError(
                path, f"truncated or not a feature file ({exc}); delete it and re-extract"
            ) from None

    def read_record(self, path: Path) -> FeatureRecord:
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            return FeatureRecord.from_json(meta["record"])
        except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
            raise FeatureStoreError(
                path, f"truncated or not a feature file ({exc}); delete it and re-extract"
            ) from None

    # ---- manifest -----------------------------------------------------------------------------------
    def finished_files(self) -> list[Path]:
        if not self.features_dir.exists():
            return []
        return sorted(
            p for p in self.features_dir.iterdir() if p.name.endswith(FEATURE_SUFFIX) and not p.name.startswith(".")
        )

    def write_manifest(self) -> list[FeatureRecord]:
        """Rebuild manifest.jsonl from the headers of the finished files (atomic)."""
        records = [self.read_record(p) for p in self.finished_files()]
        atomic_write_text(self.manifest_path, "".join(r.to_json() + "\n" for r in records))
        return records

    def records(self) -> list[FeatureRecord]:
        """All finished videos, from the manifest (rebuilt when it is missing or stale)."""
        files = self.finished_files()
        if self.manifest_path.exists():
            lines = [ln for ln in self.manifest_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if len(lines) == len(files):
                try:
                    return [FeatureRecord.from_json(ln) for ln in lines]
                except (json.JSONDecodeError, TypeError):
                    pass
        return self.write_manifest()

    # ---- failures -----------------------------------------------------------------------------------
    def record_failure(self, video_id: str, video: str, error: str) -> None:
        atomic_write_text(
            self.failures_dir / f"{video_id}.json", json.dumps({"video_id": video_id, "video": video, "error": error})
        )

    def failures(self) -> list[dict[str, str]]:
        if not self.failures_dir.exists():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.failures_dir.glob("*.json"))]
