"""Collecting benchmark figures and writing RESULTS.md with its JSON twin, each number beside its command."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch


@dataclass
class Figure:
    section: str
    name: str
    value: float | str
    unit: str = ""
    target: str = ""
    command: str = ""
    note: str = ""
    date: str = ""  # when it was measured (a figure kept from earlier results keeps its own date)
    cpu: str = ""  # the processor it was measured on (empty in results written before figures carried it)


def cpu_model() -> str:
    """The processor's name as Linux reports it ("AMD EPYC", "Intel(R) Xeon(R) ..."), else platform's guess: the
    development VMs differ between sessions, and their figures only compare on one kind of processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor()


@dataclass
class Table:
    """A markdown table shown at the top of its section, with the command that made it."""

    section: str
    markdown: str
    command: str = ""
    date: str = ""


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def add_table(self, section: str, markdown: str, command: str = "") -> None:
        self.tables = [t for t in self.tables if t.section != section] + [Table(section, markdown, command)]
        print(markdown)

    def add(
        self,
        section: str,
        name: str,
        value: float | str,
        unit: str = "",
        *,
        target: str = "",
        command: str = "",
        note: str = "",
    ) -> None:
        self.figures.append(Figure(section, name, value, unit, target, command, note))
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"[{section}] {name}: {shown} {unit} {('(target ' + target + ')') if target else ''}".rstrip())

    def write(self, folder: Path, keep_previous: bool = True) -> tuple[Path, Path]:
        """Write both files; with ``keep_previous``, the sections this run did not measure keep their figures from
        the previous results.json (so `--only heads` refreshes those figures without losing the others); a section
        it measured holds only this run's figures."""
        from wherewhen.atomic import atomic_write_text

        machine = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": __import__("os").cpu_count(),
            "cpu": cpu_model(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        }
        json_path = folder / "results.json"
        for f in self.figures:
            f.date = f.date or machine["date"]
            f.cpu = f.cpu or machine["cpu"]
        for t in self.tables:
            t.date = t.date or machine["date"]
        figures, tables = list(self.figures), list(self.tables)  # a later write merges this run's own figures again
        if keep_previous and json_path.is_file():
            measured = {(f.section, f.name): f for f in figures}
            earlier = json.loads(json_path.read_text())
            fresh = {t.section: t for t in tables}
            # a table measured again takes the old one's place, so the sections of RESULTS.md keep their order
            tables = [fresh.pop(t["section"], None) or Table(**t) for t in earlier.get("tables", [])]
            tables += list(fresh.values())
            previous = [Figure(**f) for f in earlier.get("figures", [])]
            for f in previous:  # results written before figures carried dates: the file's date
                f.date = f.date or earlier.get("machine", {}).get("date", "")
            fresh_sections = {f.section for f in figures} | {t.section for t in self.tables}
            kept = [f for f in previous if f.section not in fresh_sections or (f.section, f.name) in measured]
            merged = [measured.pop((f.section, f.name), f) for f in kept]  # keep the previous order
            figures = merged + list(measured.values())
        atomic_write_text(
            json_path,
            json.dumps(
                {
                    "machine": machine,
                    "figures": [asdict(f) for f in figures],
                    "tables": [asdict(t) for t in tables],
                },
                indent=2,
            ),
        )
        lines = [
            "# Benchmark results",
            "",
            f"Written by `make bench` on {machine['date']} (a run of some sections keeps the other figures and their "
            f"dates): Python {machine['python']}, "
            f"torch {machine['torch']}, {machine['cpu_count']} CPU cores"
            + (f" ({machine['cpu']})" if machine["cpu"] else "")
            + (f", GPU {machine['cuda']}" if machine["cuda"] else ", no GPU")
            + ".",
            "",
        ]
        for section in dict.fromkeys([t.section for t in tables] + [f.section for f in figures]):
            dates = sorted({f.date for f in figures if f.section == section and f.date})
            dates = sorted(set(dates) | {t.date for t in tables if t.section == section and t.date})
            lines += [f"## {section}", ""]
            cpus = sorted({f.cpu for f in figures if f.section == section and f.cpu})
            if dates:
                on = f" on {' and '.join(cpus)}" if cpus else ""
                lines += [f"Measured {' and '.join(dates)}{on}.", ""]
            for t in (t for t in tables if t.section == section):
                lines += [t.markdown, "", f"`{t.command}`", ""] if t.command else [t.markdown, ""]
            if not any(f.section == section for f in figures):
                continue
            lines += ["| figure | value | target | command |", "|---|---|---|---|"]
            for f in (f for f in figures if f.section == section):
                value = f"{f.value:.3f}" if isinstance(f.value, float) else str(f.value)
                note = f" ({f.note})" if f.note else ""
                lines.append(f"| {f.name}{note} | {value} {f.unit} | {f.target} | `{f.command}` |")
            lines.append("")
        md_path = folder / "RESULTS.md"
        atomic_write_text(md_path, "\n".join(lines))
        return md_path, json_path
