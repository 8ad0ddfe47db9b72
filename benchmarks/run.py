"""`make bench`: run every benchmark and write benchmarks/RESULTS.md and benchmarks/results.json."""

from __future__ import annotations

from pathlib import Path

from benchmarks import explain_speed, extraction_speed
from benchmarks.results import Results


def main() -> None:
    results = Results()
    extraction_speed.measure(extraction_speed.default_videos(), results)
    explain_speed.run(results)
    md, js = results.write(Path(__file__).resolve().parent)
    print(f"wrote {md} and {js}")


if __name__ == "__main__":
    main()
