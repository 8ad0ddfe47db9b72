"""Reading the small text files datasets ship with: split lists, class lists, annotation rows.

Every reader goes through these helpers so that a missing file, a file that is a folder, or a malformed line always
becomes a one-line :class:`DatasetError` naming the file (and line), never a traceback from inside a parser.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from wherewhen.errors import DatasetError
from wherewhen.video.files import link_problem


def read_text(path: Path) -> str:
    """The whole file as text: UTF-8 (with or without BOM), falling back to Latin-1 for old files."""
    path = Path(path)
    if (problem := link_problem(path)) is not None:
        raise DatasetError(path, problem)
    if not path.exists():
        raise DatasetError(path, "file not found")
    if path.is_dir():
        raise DatasetError(path, "is a folder, expected a text file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines as (1-based line number, text without surrounding whitespace); CRLF and LF alike."""
    return [(n, line.strip()) for n, line in enumerate(read_text(path).splitlines(), start=1) if line.strip()]


def read_csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows as (1-based line number, cells stripped of whitespace)."""
    text = read_text(path)
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    except csv.Error as exc:
        raise DatasetError(path, f"malformed CSV: {exc}", line=reader.line_num) from None
    return rows


def read_class_list(path: Path) -> list[str]:
    """Class names in file order from ``Name``, ``N Name`` (UCF101 classInd.txt) or ``Name,N`` (Moments) lines.

    With numbered lines the numbers must be 1..C or 0..C-1 in order, so that a line number is the class id.
    """
    names: list[str] = []
    numbers: list[tuple[int, int]] = []
    for line_no, line in read_lines(path):
        first, _, rest = line.partition(" ")
        before, _, last = line.rpartition(",")
        if first.isdigit() and rest.strip():
            name, number = rest.strip(), first
        elif before and last.strip().isdigit():
            name, number = before.strip(), last.strip()
        else:
            name, number = line, ""
        if number:
            numbers.append((line_no, int(number)))
        if name in names:
            raise DatasetError(path, f"class {name!r} listed twice", line=line_no)
        names.append(name)
    if not names:
        raise DatasetError(path, "no classes listed")
    if numbers:
        if len(numbers) != len(names):
            raise DatasetError(path, "some lines are numbered and some are not")
        start = 0 if numbers[0][1] == 0 else 1
        for k, (line_no, number) in enumerate(numbers):
            if number != start + k:
                raise DatasetError(path, f"class number {number} out of order, expected {start + k}", line=line_no)
    return names


def find_first(candidates: Iterable[Path], what: str, option: str, looked_in: Sequence[Path] = ()) -> Path:
    """The first existing candidate path, or a DatasetError saying where it looked and which option to pass."""
    tried = []
    for candidate in candidates:
        if candidate.exists():
            return candidate
        tried.append(candidate)
    places = list(looked_in) or [p.parent for p in tried] or [Path(".")]
    others = f" nor in {', '.join(str(p) for p in places[1:])}" if len(places) > 1 else ""
    raise DatasetError(places[0], f"{what} not found here{others}; pass {option}")


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a DatasetError naming it."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, f"{what} not found")
    if not path.is_dir():
        raise DatasetError(path, f"{what} must be a folder")
    return path
