"""benchmarks/results.py: sections measured by different runs live side by side in RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.results import Results


def figures(folder: Path) -> dict[tuple[str, str], float]:
    data = json.loads((folder / "results.json").read_text())
    return {(f["section"], f["name"]): f["value"] for f in data["figures"]}


def test_a_run_that_writes_twice_keeps_what_another_run_wrote_in_between(tmp_path: Path) -> None:
    other = Results()
    other.add("Other", "figure", 2.0, command="other")
    other.write(tmp_path)
    long_run = Results()
    long_run.add("Long", "first setting", 1.0, command="long")
    long_run.write(tmp_path)
    other_again = Results()
    other_again.add("Other", "figure", 5.0, command="other")
    other_again.write(tmp_path)
    long_run.add("Long", "second setting", 3.0, command="long")
    long_run.write(tmp_path)
    assert figures(tmp_path) == {
        ("Long", "first setting"): 1.0,
        ("Long", "second setting"): 3.0,
        ("Other", "figure"): 5.0,
    }
    assert "## Other" in (tmp_path / "RESULTS.md").read_text()


def test_a_section_measured_again_holds_only_its_new_figures(tmp_path: Path) -> None:
    first = Results()
    first.add("Section", "old figure", 1.0, command="c")
    first.write(tmp_path)
    again = Results()
    again.add("Section", "new figure", 2.0, command="c")
    again.write(tmp_path)
    assert figures(tmp_path) == {("Section", "new figure"): 2.0}
