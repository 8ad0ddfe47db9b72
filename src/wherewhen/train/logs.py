"""Per-epoch logs of a run: TensorBoard events in ``logs/`` and one row per epoch in ``metrics.csv``.

Each loss term is logged on its own (``train/ce``, ``train/<regularizer>``, ``val/...``) next to the total loss,
the accuracies and the learning rate. When a run resumes after epoch E, rows and events of later epochs (written
before the interruption) are dropped so the logs read like an uninterrupted run.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from wherewhen.atomic import atomic_write_text

FIRST_COLUMNS = ("epoch", "lr", "seconds")


class RunLogger:
    """Writes nothing unless ``enabled`` (rank 0 of a distributed run)."""

    def __init__(self, run_dir: Path, *, resume_after: int = 0, enabled: bool = True) -> None:
        self.csv_path = run_dir / "metrics.csv"
        self.enabled = enabled
        self.writer = None
        self.rows: list[dict[str, str]] = []
        if not enabled:
            return

        if self.csv_path.exists():
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                self.rows = [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit()]
            self.rows = [r for r in self.rows if int(r["epoch"]) <= resume_after]
            self._write_csv()
        # purge_step drops events of epochs after the checkpoint we resume from.
        self.writer = SummaryWriter(
            log_dir=str(run_dir / "logs"), purge_step=resume_after + 1 if resume_after else None
        )

    def log_epoch(self, epoch: int, values: dict[str, float]) -> None:
        """``values`` keys look like ``train/ce``, ``val/accuracy``, ``lr``, ``seconds``."""
        if not self.enabled:
            return
        assert self.writer is not None
        for tag, value in values.items():
            if tag != "seconds":
                self.writer.add_scalar(tag, value, global_step=epoch)
        self.writer.flush()
        row = {"epoch": str(epoch), **{tag.replace("/", "_"): f"{value:.6g}" for tag, value in values.items()}}
        self.rows.append(row)
        self._write_csv()

    def _write_csv(self) -> None:
        columns: list[str] = []
        for row in self.rows:
            columns += [c for c in row if c not in columns]
        first = [c for c in FIRST_COLUMNS if c in columns]
        columns = first + sorted(c for c in columns if c not in first)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.csv_path, buffer.getvalue())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
