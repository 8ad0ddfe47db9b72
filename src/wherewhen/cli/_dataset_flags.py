"""Command-line flags that name a dataset on disk, shared by `data check` and `extract`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# The options as ``Annotated`` types: ``dataset: flags.Format = None``.
Format = Annotated[str | None, typer.Option("--dataset", "-d", help="dataset format (see `wherewhen data list`)")]
Root = Annotated[Path | None, typer.Option("--root", help="folder of the videos (the dataset's root)")]
Split = Annotated[str, typer.Option("--split", help="split number (or a group name / 'fixed' / 'holdout')")]
Splits = Annotated[Path | None, typer.Option("--splits", help="folder of the split files (UCF101, HMDB51)")]
Annotations = Annotated[Path | None, typer.Option("--annotations", help="annotation file or folder")]
Classes = Annotated[Path | None, typer.Option("--classes", help="class list file (CSV formats)")]
LabelPattern = Annotated[str | None, typer.Option("--label-pattern", help="regex: label from the file name")]
GroupPattern = Annotated[str | None, typer.Option("--group-pattern", help="regex: group from the file name")]
TestFraction = Annotated[float | None, typer.Option("--test-fraction", help="share of test videos")]
ValFraction = Annotated[float | None, typer.Option("--val-fraction", help="share of validation videos")]
Seed = Annotated[int | None, typer.Option("--seed", help="seed of the stratified or group split")]
VideoTemplate = Annotated[str | None, typer.Option("--video-template", help="Kinetics video path template")]

# Each command parameter that sets a reader option, and the option's keyword.
READER_OPTIONS = {
    "splits": "splits_dir",
    "annotations": "annotations",
    "classes": "classes",
    "label_pattern": "label_pattern",
    "group_pattern": "group_pattern",
    "test_fraction": "test_fraction",
    "val_fraction": "val_fraction",
    "seed": "seed",
    "video_template": "video_template",
}


def reader_options(params: dict[str, Any]) -> dict[str, Any]:
    """The reader keyword options of a command's parameters (None = the reader's default; unknown ones are a
    ConfigError)."""
    return {keyword: params[name] for name, keyword in READER_OPTIONS.items()}
