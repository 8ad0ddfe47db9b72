"""Video lists as CSV: Kinetics-style ``label,youtube_id,time_start,time_end,split`` and plain ``path,label``.

Kinetics layout::

    ANNOTATIONS/train.csv, validate.csv, test.csv   (--annotations: a CSV or a folder of them; default ROOT)
    ROOT/<video template>                           default "{split}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"
                                                    (the CVDF tarballs); the ActivityNet crawler writes
                                                    "{label}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"

The split comes from the ``split`` column (``train``, ``val``/``validate``, ``test``), else from the file name.
Files without a ``label`` column (unlabelled test lists) are skipped when a folder is read. The group of a clip is
its YouTube id, so clips cut from one upload never straddle splits in a group-aware split.

Path,label layout (Moments in Time and hand-made lists)::

    ANNOTATIONS/*.csv    rows "path,label[,...]" with an optional header; the split comes from the file name
                         (trainingSet.csv -> train, validationSet.csv -> val, *test*.csv -> test)
    ROOT/<path>          video paths are relative to ROOT, or to ROOT/training and ROOT/validation for
                         Moments in Time's trainingSet.csv and validationSet.csv when those folders exist

When no file names a test or val split, a deterministic stratified split is made (``test_fraction``,
``val_fraction``, ``seed``). An optional class list (``classes``: ``Name``, ``N Name`` or ``Name,N`` lines) fixes the
class order, and a row with a label outside it is an error naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number, stratified_split
from wherewhen.datasets.textfiles import read_class_list, read_csv_rows
from wherewhen.datasets.videofiles import natural_key, with_unique_ids
from wherewhen.errors import ConfigError, DatasetError
from wherewhen.video.records import VideoRecord

KINETICS_TEMPLATE = "{split}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "validate": "val", "validation": "val"}
SPLIT_NAMES |= {"test": "test", "testing": "test"}
MOMENTS_VIDEO_DIRS = {"trainingSet": "training", "validationSet": "validation"}
_HEADER_PATH = {"path", "video", "file", "filename", "video_path"}
_HEADER_LABEL = {"label", "class", "category", "action"}


def split_from_name(path: Path) -> str | None:
    """``train``/``val``/``test`` named in a file name (``trainingSet.csv``, ``validate.csv``, ``test.csv``)."""
    words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", path.stem).lower())
    for word in words:
        if word in SPLIT_NAMES:
            return SPLIT_NAMES[word]
    return None


def csv_files(root: Path, annotations: Path | None) -> tuple[list[Path], bool]:
    """(the CSV files to read, whether they were named explicitly)."""
    where = Path(annotations) if annotations is not None else Path(root)
    if where.is_file():
        return [where], True
    if not where.is_dir():
        raise DatasetError(where, "annotation CSV or folder not found")
    files = sorted(where.glob("*.csv"), key=lambda p: natural_key(p.name))
    if not files:
        raise DatasetError(where, "no .csv files in this folder; pass --annotations FILE")
    return files, False


def _class_order(labels: set[str], classes: Path | None) -> list[str]:
    return read_class_list(Path(classes)) if classes is not None else sorted(labels, key=natural_key)


def _check_labels(records: list[tuple[Path, int, VideoRecord]], class_list: list[str], classes: Path | None) -> None:
    known = set(class_list)
    for path, line_no, record in records:
        if record.label not in known:
            raise DatasetError(path, f"label {record.label!r} is not in the class list {classes}", line=line_no)


def _time(path: Path, line_no: int, text: str, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(path, f"{column} must be a number of seconds, got {text!r}", line=line_no) from None
    if value < 0 or value != int(value):
        raise DatasetError(path, f"{column} must be a whole number of seconds >= 0, got {text!r}", line=line_no)
    return int(value)


def _format_path(template: str, fields: dict[str, object]) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"--video-template {template!r}: {exc} (fields: {', '.join(fields)})") from None


def read_kinetics(
    root: Path,
    split: int | str = 1,
    annotations: Path | None = None,
    classes: Path | None = None,
    video_template: str = KINETICS_TEMPLATE,
) -> DatasetIndex:
    """Kinetics-style lists (Kinetics-400/600/700, Something-like YouTube crops): one record per row."""
    check_split_number(split, (1,), "Kinetics-style CSV")
    root = Path(root)
    files, explicit = csv_files(root, annotations)
    rows: list[tuple[Path, int, VideoRecord]] = []
    seen: dict[str, tuple[Path, int]] = {}
    for path in files:
        table = read_csv_rows(path)
        if not table:
            raise DatasetError(path, "empty CSV")
        header_line, header = table[0]
        if "label" not in header and not explicit:
            continue  # an unlabelled test list next to the labelled ones
        missing = [c for c in KINETICS_COLUMNS if c not in header]
        if missing:
            raise DatasetError(path, f"header lacks column(s) {', '.join(missing)}", line=header_line)
        col = {c: header.index(c) for c in (*KINETICS_COLUMNS, "split") if c in header}
        file_split = split_from_name(path)
        for line_no, cells in table[1:]:
            if len(cells) < len(header):
                raise DatasetError(path, f"expected {len(header)} fields, got {len(cells)}", line=line_no)
            label, youtube_id = cells[col["label"]], cells[col["youtube_id"]]
            if not label or not youtube_id:
                raise DatasetError(path, "empty label or youtube_id", line=line_no)
            start = _time(path, line_no, cells[col["time_start"]], "time_start")
            end = _time(path, line_no, cells[col["time_end"]], "time_end")
            if end <= start:
                raise DatasetError(path, f"time_end {end} must be after time_start {start}", line=line_no)
            split_text = cells[col["split"]] if "split" in col else file_split
            if split_text is None or split_text.lower() not in SPLIT_NAMES:
                raise DatasetError(path, f"unknown split {split_text!r} (train, val, validate or test)", line=line_no)
            split_name = SPLIT_NAMES[split_text.lower()]
            video_id = f"{youtube_id}_{start:06d}_{end:06d}"
            if video_id in seen:
                other, other_line = seen[video_id]
                raise DatasetError(path, f"clip {video_id} is also listed in {other}:{other_line}", line=line_no)
            seen[video_id] = (path, line_no)
            fields = {"label": label, "youtube_id": youtube_id, "time_start": start, "time_end": end}
            rel = _format_path(video_template, {**fields, "split": split_name})
            record = VideoRecord(root / rel, label, split_name, group=youtube_id, video_id=video_id)
            rows.append((path, line_no, record))
    if not rows:
        raise DatasetError(files[0].parent, "no labelled rows in the CSV files")
    class_list = _class_order({r.label for _, _, r in rows}, classes)
    _check_labels(rows, class_list, classes)
    return DatasetIndex(classes=class_list, records=[r for _, _, r in rows])


def _has_header(cells: list[str]) -> bool:
    return cells[0].lower() in _HEADER_PATH and cells[1].lower() in _HEADER_LABEL


def read_path_label(
    root: Path,
    split: int | str = 1,
    annotations: Path | None = None,
    classes: Path | None = None,
    test_fraction: float | None = None,
    val_fraction: float | None = None,
    seed: int | None = None,
) -> DatasetIndex:
    """``path,label`` lists (Moments in Time ``trainingSet.csv`` rows ``class/video.mp4,class,...``).

    ``split`` N, ``test_fraction`` (default 0.3), ``val_fraction`` (0) and ``seed`` (0) shape the stratified split,
    made only when no list names a val or test split; given when one does, they are a ConfigError."""
    number = check_split_number(split, range(1, 1000), "a path,label list (split N reseeds the stratified split)")
    root = Path(root)
    files, _ = csv_files(root, annotations)
    rows: list[tuple[Path, int, VideoRecord]] = []
    for path in files:
        table = read_csv_rows(path)
        if table and len(table[0][1]) >= 2 and _has_header(table[0][1]):
            table = table[1:]
        file_split = split_from_name(path)
        video_dir = root
        if path.stem in MOMENTS_VIDEO_DIRS and (root / MOMENTS_VIDEO_DIRS[path.stem]).is_dir():
            video_dir = root / MOMENTS_VIDEO_DIRS[path.stem]
        for line_no, cells in table:
            if len(cells) < 2 or not cells[0] or not cells[1]:
                raise DatasetError(path, f"expected 'path,label', got {','.join(cells)!r}", line=line_no)
            record = VideoRecord(video_dir / cells[0], cells[1], file_split or "train")
            rows.append((path, line_no, record))
    if not rows:
        raise DatasetError(files[0], "no rows")
    class_list = _class_order({r.label for _, _, r in rows}, classes)
    _check_labels(rows, class_list, classes)
    records = [r for _, _, r in rows]
    given = {"--test-fraction": test_fraction, "--val-fraction": val_fraction, "--seed": seed}
    if any(r.split in ("val", "test") for r in records):
        unused = [flag for flag, value in given.items() if value is not None]
        if number != 1:
            unused.insert(0, f"--split {split}")
        if unused:
            raise ConfigError(f"{', '.join(unused)}: the lists name their own val or test videos, so no split is made")
    else:
        shares = (0.3 if test_fraction is None else test_fraction, val_fraction or 0.0, seed or 0)
        records = stratified_split(records, *shares, number)
    return DatasetIndex(classes=class_list, records=with_unique_ids(records, root))
