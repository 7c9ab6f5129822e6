"""Atomic checkpoints, the last complete checkpoint, and the output-folder check before a run.

transformers writes `checkpoint-N/` file by file in place, so a run killed during a save leaves a
`checkpoint-N/` that `get_last_checkpoint` would pick although its optimizer or trainer state is
missing. Here a checkpoint is written into `.tmp-checkpoint-N/checkpoint-N/` (a hidden name that
transformers' `checkpoint-*` globs never match), its files and folder are fsynced, and only then is
it renamed to `checkpoint-N/` (one `rename`, atomic on POSIX file systems). transformers writes
`trainer_state.json` last, so a folder without it is incomplete (written by an older version, or
copied partly): resuming skips it with a warning. A leftover `.tmp-checkpoint-*/` is an
interrupted save and is deleted by the next run's output-folder check.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

from gtpo.run.io import publish as _publish

STAGING_PREFIX = ".tmp-checkpoint-"
COMPLETE_MARKER = "trainer_state.json"  # transformers writes it after the model, optimizer and RNG states
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class RunFinished(Exception):  # noqa: N818 - an outcome, not a failure: the command exits 0
    """`--resume` on a run that already reached its max_steps: nothing to train; the message says so
    (raised by `gtpo.run.folder`)."""


class OutputDirError(OSError):
    """The run folder cannot take the run's files; the message names `output_dir` and the fix."""


def staging_root(run_dir: str | os.PathLike, step: int) -> Path:
    """Where checkpoint `step` is written before it is renamed into place."""
    return Path(run_dir) / f"{STAGING_PREFIX}{step}"


def publish(staged: Path, final: Path) -> None:
    """fsync `staged` and rename it to `final`; an older `final` (the same step saved again) is moved aside
    under the staging prefix first, so a kill in between leaves only what `remove_interrupted_saves` deletes."""
    _publish(staged, final, aside_prefix=f"{STAGING_PREFIX}old-")


def is_complete(checkpoint: str | os.PathLike) -> bool:
    return (Path(checkpoint) / COMPLETE_MARKER).is_file()


def last_complete_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The `checkpoint-N/` with the largest N that holds trainer_state.json; incomplete ones are skipped with a warning."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    found = sorted(
        ((int(m.group(1)), p) for p in run_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))),
        reverse=True,
    )
    for _, path in found:
        if is_complete(path):
            return path
        warnings.warn(
            f"{path}: incomplete checkpoint (no {COMPLETE_MARKER}); resuming from an earlier one",
            stacklevel=2,
        )
    return None


def remove_interrupted_saves(run_dir: str | os.PathLike) -> list[Path]:
    """Delete `.tmp-checkpoint-*` folders left by a save that was killed; returns what was removed."""
    run_dir = Path(run_dir)
    stale = [p for p in run_dir.glob(f"{STAGING_PREFIX}*") if p.is_dir()] if run_dir.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def estimate_checkpoint_bytes(model_path: str | os.PathLike, *, use_peft: bool = False) -> int:
    """Rough size of one checkpoint: the model's weight files x 3 (weights + AdamW's two moments), x 0.3 with LoRA.

    0 when the weights are not in a local folder (a hub id): then only writability is checked.
    """
    folder = Path(model_path).expanduser()
    if not folder.is_dir():
        return 0
    weights = sum(
        p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES)
    )
    return int(weights * (0.3 if use_peft else 3.0))


def check_output_dir(output_dir: str | os.PathLike, *, need_bytes: int = 0) -> Path:
    """Create `output_dir`, prove it writable with a probe file, and check `need_bytes` of free space.

    Raises OutputDirError naming the folder and the fix. Run before anything heavy loads.
    """
    path = Path(output_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gtpo-write-probe-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"gtpo")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as err:
        raise OutputDirError(
            f"output_dir={str(output_dir)!r} is not writable ({type(err).__name__}: {err.strerror or err}); "
            "choose a folder you can write to with --output_dir PATH"
        ) from err
    free = shutil.disk_usage(path).free
    if need_bytes and free < need_bytes:
        raise OutputDirError(
            f"output_dir={str(output_dir)!r}: {free / 2**30:.2f} GiB free, a checkpoint needs about "
            f"{need_bytes / 2**30:.2f} GiB (model weights x 3 for weights + optimizer state); free space there, "
            "or choose another disk with --output_dir PATH"
        )
    remove_interrupted_saves(path)
    return path
