"""The printed protocol and tables (rich), the confusion-matrix PNG (matplotlib, Agg), per_class.csv, metrics.json.

Every file is written atomically; metrics.json is written last, so its presence means the evaluation finished.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table

from wherewhen.atomic import atomic_path, atomic_write_text

if TYPE_CHECKING:  # evaluate.runner imports this module
    from wherewhen.evaluate.runner import EvaluationResult

PER_CLASS_FIELDS = ("class", "videos", "correct", "top1", "top5", "most_confused_with", "confused_count")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def print_report(result: EvaluationResult, console: Console | None = None) -> None:
    """Protocol lines, then the numbers, then the per-class table."""
    console = console or Console()
    console.print(f"[bold]Protocol[/bold] ({result.num_videos} videos, split {result.split})")
    for line in result.protocol:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)
    summary = Table(title="Results (%)", show_header=True)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    cls = result.classification
    if cls is not None:
        summary.add_row("top-1", _pct(cls.top1))
        summary.add_row("top-5", _pct(cls.top5))
        summary.add_row("mean class accuracy", _pct(cls.mean_class_accuracy))
    if result.spatial is not None:
        for thr, value in result.spatial["frame_map"].items():
            summary.add_row(f"frame-mAP @ IoU {thr}", _pct(value))
        summary.add_row("pointing game", _pct(result.spatial["pointing_game"]))
        summary.add_row("mean IoU (frames with a box)", _pct(result.spatial["mean_iou"]))
    if result.temporal is not None:
        for thr, value in result.temporal["map"].items():
            summary.add_row(f"temporal mAP @ tIoU {thr}", _pct(value))
    console.print(summary)
    if result.spatial is None:
        console.print("spatial localization: no ground truth boxes in this split")
    if result.temporal is None:
        console.print("temporal localization: no ground truth segments in this split")
    if cls is not None:
        table = Table(title="Per class", show_header=True)
        for name in ("class", "videos", "top-1 %", "top-5 %", "most confused with"):
            table.add_column(name, justify="left" if name in ("class", "most confused with") else "right")
        for row in cls.per_class:
            confused = f"{row['most_confused_with']} ({row['confused_count']})" if row["most_confused_with"] else ""
            table.add_row(row["class"], str(row["videos"]), _pct(row["top1"]), _pct(row["top5"]), confused)
        console.print(table)


def write_confusion_png(confusion: np.ndarray, classes: Sequence[str], path: Path, title: str = "") -> None:
    """Row-normalized confusion matrix (rows: true class) as a PNG; class names on the axes up to 60 classes."""
    # matplotlib takes a second or two to import, and only this plot needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(classes)
    support = confusion.sum(axis=1, keepdims=True)
    norm = np.divide(confusion, support, out=np.zeros(confusion.shape, dtype=np.float64), where=support > 0)
    side = float(min(max(6.0, 0.22 * n + 3.0), 30.0))
    fig = Figure(figsize=(side, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's videos")
    if n <= 60:
        size = 9 if n <= 20 else 6
        ax.set_xticks(range(n), labels=list(classes), rotation=90, fontsize=size)
        ax.set_yticks(range(n), labels=list(classes), fontsize=size)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if confusion[i, j]:
                    color = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", color=color, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def per_class_csv(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PER_CLASS_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in PER_CLASS_FIELDS})
    return buffer.getvalue()


def write_outputs(result: EvaluationResult, out_dir: Path) -> None:
    """confusion.png and per_class.csv (when the split has labels), predictions.csv, then metrics.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if result.videos:
        atomic_write_text(out_dir / "predictions.csv", predictions_csv(result.videos))
    cls = result.classification
    if cls is not None:
        title = f"{result.split}: top-1 {100 * cls.top1:.1f}%, mean class accuracy {100 * cls.mean_class_accuracy:.1f}%"
        write_confusion_png(cls.confusion, cls.classes, out_dir / "confusion.png", title)
        atomic_write_text(out_dir / "per_class.csv", per_class_csv(cls.per_class))
    atomic_write_text(out_dir / "metrics.json", json.dumps(result.to_json(), indent=2) + "\n")


def predictions_csv(videos: list[dict[str, Any]]) -> str:
    """One row per video: video_id, video, label (empty when unlabelled), predicted, confidence."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["video_id", "video", "label", "predicted", "confidence"])
    writer.writeheader()
    for row in videos:
        writer.writerow({**row, "label": row["label"] or "", "confidence": f"{row['confidence']:.4f}"})
    return buffer.getvalue()
