"""Error types. Every message is one line that names the file (or argument) and the problem."""

from __future__ import annotations

from pathlib import Path


class WherewhenError(Exception):
    """Base of every error the toolkit raises on bad input; the CLI prints it as one line."""


class _FileError(WherewhenError):
    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class VideoError(_FileError):
    """A video that is missing, not a video, empty, too short, or corrupt."""


class DatasetError(_FileError):
    """A dataset file (split list, annotation) that is missing, malformed or inconsistent."""


class FeatureStoreError(_FileError):
    """A feature store or feature file that is missing, truncated or inconsistent."""


class CheckpointError(_FileError):
    """A checkpoint or saved-model directory that is missing, truncated, tampered or incompatible."""


class WeightsError(_FileError):
    """Backbone weights that are missing or do not fit the architecture."""


class ConfigError(WherewhenError):
    """A configuration value or command-line argument that is invalid."""
