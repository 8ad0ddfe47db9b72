"""UCF101-24 (corrected annotations): 24 UCF101 classes with a box tube per actor.

Layout::

    UCF-101/<Class>/v_<Class>_gXX_cYY.avi     the UCF101 videos (--root)
    pyannot.pkl                               (--annotations: the file or its folder; default ROOT/pyannot.pkl,
    testlist01.txt                             ROOT/../pyannot.pkl, ROOT/annotations/pyannot.pkl)

``pyannot.pkl`` maps ``"Class/v_Class_gXX_cYY"`` to ``{"numf": frames, "label": 0-based class, "annotations":
[{"sf", "ef", "label", "boxes"}]}``: each tube covers frames ``[sf, ef)`` (0-based, half-open) with one box
``x, y, w, h`` per frame in pixels of the 320x240 UCF101 frame. ``pyannot_with_class_names.pkl`` (``{"db": ...,
"classes": [...], "trainvideos": [...]}``) is read the same way. Test videos are those in ``testlist01.txt`` next
to the pickle (else: all videos not in ``trainvideos``); there is one split. Groups are UCF101's ``gXX``.

The pickle is Python 2 era (read with ``encoding="latin1"``) and is loaded with an unpickler that only admits
numpy arrays and scalars, so a tampered file cannot run code.
"""

from __future__ import annotations

import codecs
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from wherewhen.datasets.records import DatasetIndex
from wherewhen.datasets.splits import check_split_number
from wherewhen.datasets.textfiles import find_first, read_lines
from wherewhen.datasets.ucf101 import GROUP_PATTERN
from wherewhen.errors import DatasetError
from wherewhen.video.records import BoxTrack, VideoRecord

ANNOTATION_FRAME_SIZE = (320, 240)
PICKLE_NAMES = ("pyannot.pkl", "pyannot_with_class_names.pkl")

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED_GLOBALS[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED_GLOBALS[(_module, "scalar")] = _multiarray.scalar


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def load_pickle(path: Path) -> Any:
    """A pickle holding only builtins and numpy arrays (Python 2 pickles too); any failure is a DatasetError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "annotation pickle not found" if not path.exists() else "is not a file")
    try:
        with path.open("rb") as f:
            return _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError) as exc:
        raise DatasetError(path, f"not a readable annotation pickle: {exc}") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def tube_track(
    path: Path,
    key: str,
    k: int,
    tube: Any,
    numf: int,
    classes: list[str],
    source_size: tuple[int, int] = ANNOTATION_FRAME_SIZE,
    frame_size: tuple[int, int] | None = None,
) -> BoxTrack:
    """One tube as a BoxTrack with (x1, y1, x2, y2) per frame: boxes x, y, w, h in pixels of ``source_size``,
    returned in pixels of ``frame_size`` (default: ``source_size``)."""
    where = f"{key} tube {k}"
    try:
        sf, ef = _int(tube["sf"]), _int(tube["ef"])
        boxes = np.asarray(tube["boxes"])
        label = _int(tube.get("label", -1))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(path, f"{where}: malformed tube ({exc})") from None
    if not 0 <= sf < ef:
        raise DatasetError(path, f"{where}: frames [{sf}, {ef}) are empty or negative")
    if ef > numf:
        raise DatasetError(path, f"{where}: ends at frame {ef}, past the end of the video's {numf} frames")
    if boxes.shape != (ef - sf, 4):
        raise DatasetError(path, f"{where}: boxes have shape {boxes.shape}, expected ({ef - sf}, 4) for [{sf}, {ef})")
    xywh = boxes.astype(np.float64)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    size = frame_size or source_size
    if size != source_size:
        xyxy *= np.array([size[0] / source_size[0], size[1] / source_size[1]] * 2)
    tube_label = classes[label] if 0 <= label < len(classes) else None
    return BoxTrack(
        frame_size=(int(size[0]), int(size[1])),
        boxes=dict(zip(range(sf, ef), map(tuple, xyxy.tolist()), strict=True)),
        label=tube_label,
    )


def classes_from_keys(path: Path, db: Mapping[str, Any]) -> list[str]:
    """Class names by label index, from the ``Class/`` prefix of each key; they must agree."""
    by_label: dict[int, str] = {}
    for key, video in db.items():
        folder = str(key).split("/")[0]
        label = _int(video["label"])
        if by_label.setdefault(label, folder) != folder:
            raise DatasetError(path, f"{key}: label {label} is {by_label[label]!r} elsewhere")
    if sorted(by_label) != list(range(len(by_label))):
        raise DatasetError(path, f"labels must run 0..C-1, got {sorted(by_label)}")
    return [by_label[i] for i in range(len(by_label))]


def parse_annotations(
    path: Path,
    data: Any,
    frame_size: tuple[int, int] | None = None,
    classes: list[str] | None = None,
    source_size: tuple[int, int] = ANNOTATION_FRAME_SIZE,
) -> tuple[list[str], dict[str, tuple[str, tuple[BoxTrack, ...]]], list[str] | None]:
    """(classes, {key: (class, tracks)}, train keys or None) from a loaded UCF101-24-style pickle.

    ``classes`` given: labels index into it and each key's ``Class/`` prefix must name its label's class.
    Boxes are in pixels of ``source_size`` and are rescaled to ``frame_size`` when given.
    """
    if not isinstance(data, Mapping):
        raise DatasetError(path, f"expected a dict of videos, got {type(data).__name__}")
    db, train, check_prefix = data, None, classes is not None
    if "db" in data:
        db, train = data["db"], data.get("trainvideos")
        classes = classes or list(data.get("classes") or []) or None
    if not isinstance(db, Mapping) or not db:
        raise DatasetError(path, "no videos in the annotation pickle")
    try:
        classes = classes or classes_from_keys(path, db)
    except (KeyError, TypeError) as exc:
        raise DatasetError(path, f"malformed video entry ({exc})") from None
    videos: dict[str, tuple[str, tuple[BoxTrack, ...]]] = {}
    for key, video in db.items():
        try:
            numf, label, tubes = _int(video["numf"]), _int(video["label"]), list(video["annotations"])
        except (KeyError, TypeError) as exc:
            raise DatasetError(path, f"{key}: malformed video entry ({exc})") from None
        if not 0 <= label < len(classes):
            raise DatasetError(path, f"{key}: label {label} outside 0..{len(classes) - 1}")
        if check_prefix and str(key).split("/")[0] != classes[label]:
            raise DatasetError(path, f"{key}: label {label} is class {classes[label]!r}, not the key's folder")
        tracks = tuple(
            tube_track(path, str(key), k, tube, numf, classes, source_size, frame_size) for k, tube in enumerate(tubes)
        )
        videos[str(key)] = (classes[label], tracks)
    return classes, videos, None if train is None else [str(k) for k in train]


def read_test_keys(path: Path, classes: list[str], videos: Mapping[str, Any]) -> set[str]:
    """Keys listed in a UCF101-24 ``testlist01.txt`` (entries of other UCF101 classes are skipped)."""
    keys = set()
    for line_no, line in read_lines(path):
        key = line.split()[0].replace("\\", "/").removesuffix(".avi")
        if key.split("/")[0] not in classes:
            continue
        if key not in videos:
            raise DatasetError(path, f"{key} has no annotation in the pickle", line=line_no)
        keys.add(key)
    return keys


def find_pickle(root: Path, annotations: Path | None) -> Path:
    if annotations is not None and Path(annotations).is_file():
        return Path(annotations)
    folders = [Path(annotations)] if annotations is not None else [root, root.parent, root / "annotations"]
    return find_first([f / n for f in folders for n in PICKLE_NAMES], "pyannot.pkl", "--annotations FILE", folders)


def read_ucf101_24(
    root: Path, split: int | str = 1, annotations: Path | None = None, frame_size: tuple[int, int] | None = None
) -> DatasetIndex:
    """UCF101-24: one record per annotated video with its box tubes (scaled to ``frame_size`` when given)."""
    check_split_number(split, (1,), "UCF101-24")
    root = Path(root)
    pickle_path = find_pickle(root, annotations)
    classes, videos, train = parse_annotations(pickle_path, load_pickle(pickle_path), frame_size)
    testlist = pickle_path.parent / "testlist01.txt"
    if testlist.is_file():
        test = read_test_keys(testlist, classes, videos)
    elif train is not None:
        test = set(videos) - set(train)
    else:
        raise DatasetError(testlist, "not found: UCF101-24 needs testlist01.txt next to the pickle for its split")
    records = []
    for key, (label, tracks) in videos.items():
        match = GROUP_PATTERN.search(key)
        records.append(
            VideoRecord(
                path=root / f"{key}.avi",
                label=label,
                split="test" if key in test else "train",
                group=match.group(1) if match else None,
                tracks=tracks,
            )
        )
    records.sort(key=lambda r: (classes.index(r.label), r.video_id))
    return DatasetIndex(classes=classes, records=records)
