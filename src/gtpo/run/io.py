"""Files a run writes and reads: atomic writes and JSONL reading, one implementation each.

- `write_text_atomic(path, text)`: a small file (run_config.yaml, summary.json, demo.json, a
  trimmed metrics.jsonl) written to a sibling temporary file, fsynced and renamed over `path`, so a
  reader or a kill never sees half a file.
- `staged_folder(target)` / `publish(staged, final)`: a whole folder (a checkpoint, a warm start)
  built beside its target, fsynced, then moved in with one rename.
- `read_jsonl(path, torn=...)`: the rows of a JSONL file that another process may be appending to.
  A kill mid-write leaves an unterminated, unparsable last line ("torn"); `torn` says what to do
  with it: "skip" (readers of a live run), "truncate" (a file this process is about to append to:
  the torn bytes are cut off, and a complete last line without its newline gets one) or "error".
  A bad line anywhere else is an error naming the file and line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TORN = ("skip", "truncate", "error")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary sibling and one rename; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(staged: Path, final: Path, *, aside_prefix: str = ".old-") -> None:
    """fsync every file and folder of `staged`, then rename it to `final`.

    An existing `final` is first renamed aside (`aside_prefix` + a random suffix, beside it: rename cannot
    replace a non-empty folder) and removed after the new folder is in place.
    """
    for root, _, files in os.walk(staged):
        for name in files:
            _fsync(Path(root) / name)
        _fsync(Path(root))
    old = None
    if final.exists():
        old = final.with_name(f"{aside_prefix}{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    os.rename(staged, final)
    _fsync(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder next to `target`. When the block ends without an error the
    staging folder replaces `target` (whatever was there is removed) through `publish`; on an
    error `target` is left as it was. The staging folder never outlives the block."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700; the published folder gets a normal mode
    try:
        yield staging
        publish(staging, target, aside_prefix=f".{target.name}-old-")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_jsonl(
    path: str | os.PathLike,
    *,
    torn: str = "skip",
    check: Callable[[Any], None] | None = None,
    hint: str = "",
) -> list[dict]:
    """The JSON objects of `path`, one per non-blank line ([] when the file does not exist).

    Args:
        torn: what to do with an unparsable last line (see the module docstring): "skip",
            "truncate" or "error".
        check: called on each parsed row; raises ValueError for a row of the wrong shape (treated
            like an unparsable line).
        hint: appended to the error for a bad line (what the file should be, or how to recover).
    """
    if torn not in TORN:
        raise ValueError(f"torn={torn!r}: use one of {', '.join(TORN)}")
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    rows: list[dict] = []
    good_end = 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                if check is not None:
                    check(row)
            except ValueError as err:
                if number == len(lines) and torn != "error":  # unterminated last line: an interrupted write
                    break
                raise ValueError(f"{path}:{number}: corrupt line ({err}){'; ' + hint if hint else ''}") from err
            rows.append(row)
        good_end += len(line) + (number < len(lines))
    if torn == "truncate":
        if good_end < len(raw):
            with open(path, "r+b") as handle:
                handle.truncate(good_end)
        elif raw and not raw.endswith(b"\n"):  # last row complete but unterminated
            with open(path, "ab") as handle:
                handle.write(b"\n")
    return rows


def json_line(row: dict) -> str:
    """One JSONL line; the Unicode line breaks that str.splitlines() splits on are escaped too."""
    text = json.dumps(row, ensure_ascii=False)
    for char in ("\u2028", "\u2029", "\x85"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text + "\n"
