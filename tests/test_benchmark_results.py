"""benchmarks/results.py: sections measured by different runs live side by side in RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.results import Results


def figures(folder: Path) -> dict[tuple[str, str], float]:
    data = json.loads((folder / "results.json").read_text())
    return {(f["section"], f["name"]): f["value"] for f in data["figures"]}


def written(folder: Path, section: str, name: str, value: float, results: Results | None = None) -> Results:
    """``results`` (a new run when None) with one more figure, written to ``folder``."""
    results = results or Results()
    results.add(section, name, value, command=section.lower())
    results.write(folder)
    return results


def test_a_run_that_writes_twice_keeps_what_another_run_wrote_in_between(tmp_path: Path) -> None:
    written(tmp_path, "Other", "figure", 2.0)
    long_run = written(tmp_path, "Long", "first setting", 1.0)
    written(tmp_path, "Other", "figure", 5.0)
    written(tmp_path, "Long", "second setting", 3.0, long_run)
    assert figures(tmp_path) == {
        ("Long", "first setting"): 1.0,
        ("Long", "second setting"): 3.0,
        ("Other", "figure"): 5.0,
    }
    assert "## Other" in (tmp_path / "RESULTS.md").read_text()


def test_a_section_measured_again_holds_only_its_new_figures(tmp_path: Path) -> None:
    written(tmp_path, "Section", "old figure", 1.0)
    written(tmp_path, "Section", "new figure", 2.0)
    assert figures(tmp_path) == {("Section", "new figure"): 2.0}


def test_a_table_measured_again_keeps_its_place(tmp_path: Path) -> None:
    for section in ("First", "Second"):
        results = Results()
        results.add_table(section, f"| {section} |\n|---|", section.lower())
        results.write(tmp_path)
    again = Results()
    again.add_table("First", "| First, again |\n|---|", "first")
    again.write(tmp_path)
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.index("## First") < text.index("## Second") and "| First, again |" in text


def test_a_run_of_some_generalization_settings_keeps_the_others(tmp_path: Path) -> None:
    from benchmarks import generalization

    section = generalization.SECTION
    earlier = Results()
    for setting in ("seed2", "full"):
        earlier.add(section, f"attention_pool on {setting}: test top-1, mean of seeds", 0.5)
    earlier.write(tmp_path)
    results = Results()
    generalization.keep_other_settings(results, tmp_path, ["seed2"])
    assert [f.name for f in results.figures] == ["attention_pool on full: test top-1, mean of seeds"]
    assert results.figures[0].date  # with the date it was measured
