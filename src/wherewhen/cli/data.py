"""`wherewhen data list` and `wherewhen data check FORMAT --root DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wherewhen.cli import _dataset_flags as flags
from wherewhen.datasets.check import CheckReport
from wherewhen.wording import count

# Reader options that `data check` has a flag for (readers may take more through the Python API).
CLI_OPTIONS = tuple(flags.READER_OPTIONS.values())

data_app = typer.Typer(help="Datasets on disk: the formats read, and a check before extraction.", no_args_is_help=True)


def _print_report(report: CheckReport, limit: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    splits = report.splits
    groups = f", {count(report.groups, 'group')}" if report.groups else ""
    table = Table(title=f"{count(len(report.classes), 'class')}, {count(report.videos, 'video')}{groups}")
    table.add_column("class")
    for split in splits:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    for label in report.classes:
        row = [report.counts[(label, s)] for s in splits]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [sum(report.counts[(c, s)] for c in report.classes) for s in splits]
    table.add_section()
    table.add_row("all", *map(str, totals), str(sum(totals)))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)

    def listing(title: str, items: list[str]) -> None:
        if not items:
            return
        console.print(f"{title} ({len(items)}):")
        shown = items if limit <= 0 else items[:limit]
        for item in shown:
            console.print(f"  {item}", soft_wrap=True)
        if len(shown) < len(items):
            console.print(f"  ... and {len(items) - len(shown)} more (--limit 0 lists all)")

    listing("missing", [str(p) for p in report.missing])
    listing("unreadable", [f"{p}: {why}" for p, why in report.unreadable])
    listing("skipped, not video files", [f"{p}: {why}" for p, why in report.skipped])
    listing("annotations past the end", [f"{p}: {why}" for p, why in report.past_end])
    if report.ok:
        checked = f", {report.probed} decoded" if report.probed else ""
        every = "all " if report.videos > 1 else ""
        console.print(f"ok: {every}{count(report.videos, 'video')} present{checked}", soft_wrap=True)
    else:
        console.print(
            f"problems: {len(report.missing)} missing, {len(report.unreadable)} unreadable of "
            f"{count(report.videos, 'video')}; {len(report.skipped)} skipped; "
            f"{count(len(report.past_end), 'annotation')} past the end",
            soft_wrap=True,
        )


@data_app.command("list")
def list_formats() -> None:
    """List the dataset formats and the options each takes."""
    from wherewhen.datasets.registry import FORMATS, option_flag

    for fmt in FORMATS.values():
        options = ", ".join(option_flag(o) for o in fmt.options() if o in CLI_OPTIONS)
        typer.echo(f"{fmt.name:11s} {fmt.summary}" + (f"  [{options}]" if options else ""))


@data_app.command("check")
def check(
    ctx: typer.Context,
    format: Annotated[str, typer.Argument(metavar="FORMAT", help="dataset format (see `wherewhen data list`)")],
    root: Annotated[Path, typer.Option("--root", help="folder of the videos (the dataset's root)")],
    split: flags.Split = "1",
    splits: flags.Splits = None,
    annotations: flags.Annotations = None,
    classes: flags.Classes = None,
    label_pattern: flags.LabelPattern = None,
    group_pattern: flags.GroupPattern = None,
    test_fraction: flags.TestFraction = None,
    val_fraction: flags.ValFraction = None,
    seed: flags.Seed = None,
    video_template: flags.VideoTemplate = None,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="open every video to check it decodes")] = True,
    limit: Annotated[int, typer.Option("--limit", help="list at most this many problems per kind (0: all)")] = 20,
) -> None:
    """Check a dataset: counts per class and split, missing or unreadable videos, annotations past the end.

    Exit status 0 when all is fine, 1 when videos are missing or unreadable, 2 when the split files disagree.
    """
    from wherewhen.datasets.check import check_dataset
    from wherewhen.datasets.registry import read_dataset

    options = flags.reader_options(ctx.params)
    index = read_dataset(format, root, split, **options)
    report = check_dataset(index, probe=probe, progress=True)
    if not root.is_dir():
        report.notes.append(f"--root {root} is not a folder: every video is missing")
    _print_report(report, limit)
    if not report.ok:
        # SystemExit rather than typer.Exit: click returns (not raises) Exit codes when standalone_mode=False.
        raise SystemExit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
