"""Dataset formats by name: ``read_dataset("ucf101", root, split=1, splits_dir=...)`` -> DatasetIndex."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wherewhen.datasets.records import DatasetIndex
from wherewhen.errors import ConfigError


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    module: str
    function: str
    summary: str

    def reader(self) -> Callable[..., DatasetIndex]:
        return getattr(importlib.import_module(f"wherewhen.datasets.{self.module}"), self.function)

    def options(self) -> list[str]:
        """Keyword options the reader takes besides ``root`` and ``split``."""
        params = inspect.signature(self.reader()).parameters
        return [p for p in params if p not in ("root", "split")]


FORMATS = {
    f.name: f
    for f in (
        DatasetFormat("ucf101", "ucf101", "read_ucf101", "UCF101: classInd.txt, trainlist0N.txt, testlist0N.txt"),
        DatasetFormat("hmdb51", "hmdb51", "read_hmdb51", "HMDB51: <class>_test_splitN.txt (1 train, 2 test, 0 unused)"),
        DatasetFormat("ucf11", "ucf11", "read_ucf11", "UCF-11 YouTube actions: <class>/<group>/ folders, 25 groups"),
        DatasetFormat("thumos14", "thumos14", "read_thumos14", "THUMOS'14: untrimmed, <Class>_val/test.txt or CSV"),
        DatasetFormat("ucf101_24", "ucf101_24", "read_ucf101_24", "UCF101-24: pyannot.pkl box tubes, testlist01.txt"),
        DatasetFormat("kinetics", "csv_lists", "read_kinetics", "Kinetics-style CSV: label,youtube_id,time_start,..."),
        DatasetFormat("path_label", "csv_lists", "read_path_label", "CSV of path,label rows (Moments in Time)"),
        DatasetFormat("folder", "folder", "read_folder", "a folder per class, or file-name patterns for label/group"),
        DatasetFormat("embedded", "embedded", "read_embedded", "the embedded where-and-when benchmark"),
    )
}


def option_flag(name: str) -> str:
    """The command-line flag of a reader option: ``splits_dir`` -> ``--splits``, ``seed`` -> ``--seed``."""
    return "--" + name.removesuffix("_dir").replace("_", "-")


def available_formats() -> list[str]:
    return list(FORMATS)


def dataset_format(name: str) -> DatasetFormat:
    key = name.lower().replace("-", "_")
    if key not in FORMATS:
        raise ConfigError(f"unknown dataset format {name!r}; choose from {', '.join(FORMATS)}")
    return FORMATS[key]


def read_dataset(format: str, root: str | Path, split: int | str = 1, **options: Any) -> DatasetIndex:
    """Read a dataset of format ``format`` under ``root``; options the format does not take are a ConfigError.

    A split given as a string of digits becomes an int (``"2"`` -> 2); options set to None are left at the
    reader's default; ``~`` in paths is expanded.
    """
    fmt = dataset_format(format)
    given = {k: v.expanduser() if isinstance(v, Path) else v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(fmt.options()))
    if unknown:
        takes = ", ".join(map(option_flag, fmt.options())) or "no options"
        names = ", ".join(map(option_flag, unknown))
        raise ConfigError(f"format {fmt.name!r} does not take {names} (it takes: {takes})")
    if isinstance(split, str) and split.strip().isdigit():
        split = int(split)
    return fmt.reader()(Path(root).expanduser(), split, **given)
