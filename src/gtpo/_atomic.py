"""Write a whole folder atomically: build it beside its target, fsync it, then move it in with one rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it 0700; the published folder gets a normal mode
    try:
        yield staging
        publish(staging, target, aside_prefix=f".{target.name}-old-")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
