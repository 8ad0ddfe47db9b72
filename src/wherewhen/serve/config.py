"""What ``wherewhen serve`` serves and where it keeps its own files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wherewhen.errors import ConfigError

DEFAULT_UPLOAD_MB = 512.0


@dataclass(frozen=True)
class ServeConfig:
    """runs:     run folders of ``wherewhen train``, or folders holding them (two levels down at most).
    data:        feature stores or embedded benchmark folders whose videos the page offers (the runs' own stores
                 are added).
    workdir:     the server's working folder: uploads/, cache/ (explanations, evaluations, previews), selections/.
    max_upload_bytes: larger uploads are refused.
    device:      where the models and the backbone run.
    """

    runs: tuple[Path, ...]
    data: tuple[Path, ...] = ()
    workdir: Path = Path("wherewhen-serve")
    max_upload_bytes: int = int(DEFAULT_UPLOAD_MB * (1 << 20))
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise ConfigError(f"--max-upload-mb must be positive, got {self.max_upload_bytes / (1 << 20):g}")
        for path in (*self.runs, *self.data):
            if not Path(path).is_dir():
                raise ConfigError(f"{path}: no such folder")

    def folder(self, name: str) -> Path:
        """A folder of the working folder (made on first use)."""
        path = self.workdir.expanduser().resolve() / name
        path.mkdir(parents=True, exist_ok=True)
        return path
