"""Reading a task's native rows from local data: JSONL, JSON, CSV and parquet files, and
`datasets.save_to_disk` folders.

Each reader yields ``(where, row)`` pairs: `row` is one native row as a dict, `where` says where it
stands in words that a user can find, 1-based:
- JSONL: ``path:LINE`` (the file's line number, blank lines counted, so an editor's "go to line"
  lands on it);
- CSV: ``path:LINE`` (the line the record starts on; line 1 is the header); every value is text;
- JSON (a list of objects): ``path: row N`` (the N-th object of the list);
- parquet and save_to_disk folders: ``row N of path``.
A file that cannot be parsed is a `TaskSourceError` naming the file (and the line where the format has
lines). `gtpo.tasks.registry` decides which file to read (`local_rows`) and turns a bad row into an
error that starts with its `where`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gtpo.tasks.base import TaskSourceError

Located = tuple[str, dict[str, Any]]  # (where, row)
FORMATS = (".jsonl", ".json", ".csv", ".parquet")  # the file suffixes read as data files


def is_saved_dataset(path: Path) -> bool:
    """True for a folder written by `datasets.Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    return path.is_dir() and (
        (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()
    )


def read_jsonl(path: Path) -> Iterator[Located]:
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskSourceError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise TaskSourceError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield f"{path}:{lineno}", row


def read_json(path: Path) -> Iterator[Located]:
    """A JSON file holding a list of objects (one per row)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskSourceError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise TaskSourceError(
            f"{path}: expected a JSON list of objects (one per row), got {type(data).__name__}; "
            "for one object per line name the file .jsonl"
        )
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise TaskSourceError(f"{path}: row {number}: expected a JSON object, got {type(row).__name__}")
        yield f"{path}: row {number}", row


def read_csv(path: Path) -> Iterator[Located]:
    """A CSV file with a header line; values are text (quoted fields may span lines)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        start = 2  # the first record starts after the header line
        try:
            for row in reader:
                if None in row:  # more fields than the header names
                    raise TaskSourceError(f"{path}:{start}: more fields than the header's "
                                          f"{len(reader.fieldnames or [])}")  # fmt: skip
                if any(value is not None and value != "" for value in row.values()):
                    yield f"{path}:{start}", dict(row)
                start = reader.line_num + 1
        except csv.Error as exc:
            raise TaskSourceError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if reader.fieldnames is None:
        raise TaskSourceError(f"{path}: empty CSV file; the first line must name the columns")


def read_parquet(path: Path) -> Iterator[Located]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError kinds
        raise TaskSourceError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    for number, row in enumerate(rows, start=1):
        yield f"row {number} of {path}", row


def read_saved(path: Path, split: str) -> Iterator[Located]:
    """A `save_to_disk` folder: a Dataset, or a DatasetDict's `split` (or its only split)."""
    import datasets

    try:
        saved = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise TaskSourceError(
            f"{path}: not a readable save_to_disk folder ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(saved, datasets.DatasetDict):
        if split not in saved and len(saved) != 1:
            raise TaskSourceError(
                f"{path} has no split {split!r} (it has {', '.join(saved)}); pass --task_split"
            )
        saved = saved[split] if split in saved else next(iter(saved.values()))
    for number, row in enumerate(saved, start=1):
        yield f"row {number} of {path}", dict(row)


READERS = {".jsonl": read_jsonl, ".json": read_json, ".csv": read_csv, ".parquet": read_parquet}


def read_file(path: Path) -> Iterable[Located]:
    """The rows of a data file, by its suffix (.jsonl, .json, .csv, .parquet; anything else as JSONL)."""
    return READERS.get(path.suffix.lower(), read_jsonl)(path)
