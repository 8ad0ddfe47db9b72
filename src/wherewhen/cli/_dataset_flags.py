"""Command-line flags that name a dataset on disk, shared by `data check` and `extract`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

FORMAT = typer.Option(None, "--dataset", "-d", help="dataset format (see `wherewhen data list`)")
ROOT = typer.Option(None, "--root", help="folder of the videos (the dataset's root)")
SPLIT = typer.Option("1", "--split", help="split number (or a group name / 'fixed' / 'holdout')")
SPLITS = typer.Option(None, "--splits", help="folder of the split files (UCF101, HMDB51)")
ANNOTATIONS = typer.Option(None, "--annotations", help="annotation file or folder")
CLASSES = typer.Option(None, "--classes", help="class list file (CSV formats)")
LABEL_PATTERN = typer.Option(None, "--label-pattern", help="regex: label from the file name")
GROUP_PATTERN = typer.Option(None, "--group-pattern", help="regex: group from the file name")
TEST_FRACTION = typer.Option(None, "--test-fraction", help="share of test videos")
VAL_FRACTION = typer.Option(None, "--val-fraction", help="share of validation videos")
SEED = typer.Option(None, "--seed", help="seed of the stratified or group split")
VIDEO_TEMPLATE = typer.Option(None, "--video-template", help="Kinetics video path template")

# The command parameters of the reader options, in the order reader_options takes them.
READER_PARAMS = (
    "splits",
    "annotations",
    "classes",
    "label_pattern",
    "group_pattern",
    "test_fraction",
    "val_fraction",
    "seed",
    "video_template",
)


def reader_options(
    splits: Path | None,
    annotations: Path | None,
    classes: Path | None,
    label_pattern: str | None,
    group_pattern: str | None,
    test_fraction: float | None,
    val_fraction: float | None,
    seed: int | None,
    video_template: str | None,
) -> dict[str, Any]:
    """The reader keyword options the user gave (None = the reader's default; unknown ones are a ConfigError)."""
    return {
        "splits_dir": splits,
        "annotations": annotations,
        "classes": classes,
        "label_pattern": label_pattern,
        "group_pattern": group_pattern,
        "test_fraction": test_fraction,
        "val_fraction": val_fraction,
        "seed": seed,
        "video_template": video_template,
    }
