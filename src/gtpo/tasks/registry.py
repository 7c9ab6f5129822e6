"""The task registry and `load_task`: any registered task as a `datasets.Dataset`.

`register_task(Task(...))` adds a task under its name (each built-in task module registers itself
when `gtpo.tasks` is imported); `get_task(name)` and `task_names()` look them up.

`load_task(name, split, source=..., subjects=..., limit=..., seed=..., options=...)` builds the rows.
A generated task (`Task.generate`) makes them from `split`, `limit`, `seed` and `options`. A file/hub
task converts every native row with `Task.convert`; where the rows come from (`source`):
- a local JSONL file in the task's native fields (used as the requested split as it is);
- a folder holding ``{split}.jsonl`` or ``{name}/{split}.jsonl`` (so both ``data/gsm8k`` and
  ``data`` work for a folder laid out like the shared benchmark data);
- a hub dataset id ("owner/name"), read with `datasets.load_dataset` (the task's default id with its
  known split names; another id with `split`, or its only split if it has one);
- None: the task's default hub id (`Task.hub_id`). Offline, or when the hub fails, a
  `TaskSourceError` says to pass ``--source PATH`` and which fields the JSONL needs.
The package never assumes where local data lives.

Bad rows: a `RowError` from `convert` (a missing or empty field, an answer that cannot be read) is a
`TaskSourceError` naming the row index (0-based, blank lines not counted), the field and the file; a
skippable one drops the row with a warning naming it. Rows whose ids repeat get ``{split}-{row}`` ids
instead, with a warning.

Selection: `subjects` (tasks with `Task.subjects`) keeps the named subjects, matched
case-insensitively with "_"/"&"/"and" variants ("counting_and_probability"). `limit` takes a
deterministic sample: the rows are shuffled with `random.Random(seed)` and the first `limit` kept, so a
smaller limit is a prefix of a larger one for the same seed. Without `limit` the native order is kept
and `seed` is unused.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import Dataset

from gtpo.tasks.base import RowError, Task, TaskSourceError, match_subject

_TASKS: dict[str, Task] = {}


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add `task` to the registry under `task.name` and return it. A name already registered is
    refused (ValueError) unless `replace=True`."""
    if not isinstance(task, Task):
        raise TypeError(f"register_task expects a gtpo.tasks.Task, got {type(task).__name__}")
    if task.name in _TASKS and not replace:
        raise ValueError(f"task {task.name!r} is already registered; pick another name or pass replace=True")
    _TASKS[task.name] = task
    return task


def unregister_task(name: str) -> Task:
    """Remove the task `name` from the registry and return it (tests, plugins that replace a task)."""
    task = get_task(name)
    del _TASKS[name]
    return task


def get_task(name: str) -> Task:
    """The registered task `name`; an unknown name is a ValueError listing the registered ones."""
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(_TASKS)}") from None


def task_names() -> tuple[str, ...]:
    """The registered task names, in registration order."""
    return tuple(_TASKS)


def _quoted(names: Iterable[str]) -> str:
    items = [repr(n) for n in names]
    return " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " and " + items[-1]


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
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
            yield row


def _local_file(task: Task, path: Path, split: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        candidates = [path / f"{split}.jsonl", path / task.name / f"{split}.jsonl"]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise TaskSourceError(
            f"no {split}.jsonl for task {task.name!r} in {path}: looked for "
            f"{' and '.join(str(c) for c in candidates)}. Expected JSONL fields: {task.fields}"
        )
    raise TaskSourceError(
        f"--source {path} does not exist (a JSONL file, a folder, or a hub id 'owner/name')"
    )


def _looks_like_path(source: str) -> bool:
    return (
        source.startswith((".", "/", "~"))
        or source.endswith((".jsonl", ".json"))
        or source.count("/") != 1
        or os.path.exists(source)
    )


def _offline_help(task: Task, split: str) -> str:
    return (
        f"Pass --source PATH (Python: source=PATH) with the native JSONL: a {split}.jsonl file or a folder "
        f"holding {split}.jsonl or {task.name}/{split}.jsonl, with fields: {task.fields}"
    )


def _hub_rows(task: Task, hub_id: str, split: str, configs: tuple[str | None, ...]) -> list[dict[str, Any]]:
    """Rows of the hub dataset. The default id uses its known split names (`Task.hub_split`); another
    id uses `split`, or its only split when it has just one (AIME copies often say 'train')."""
    import datasets

    known = hub_id == task.hub_id
    rows: list[dict[str, Any]] = []
    for config in configs:
        where = hub_id + (f" (config {config!r})" if config else "")
        try:
            if known:
                part = datasets.load_dataset(hub_id, config, split=task.hub_split(split))
            else:
                splits = datasets.load_dataset(hub_id, config)
                if split not in splits and len(splits) != 1:
                    raise TaskSourceError(
                        f"hub dataset {where} has no split {split!r} (it has {', '.join(splits)}). "
                        f"{_offline_help(task, split)}"
                    )
                part = splits[split] if split in splits else next(iter(splits.values()))
        except TaskSourceError:
            raise
        except Exception as exc:
            offline = any(
                os.environ.get(var, "").lower() in ("1", "true", "yes")
                for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
            )
            why = f"{type(exc).__name__}: {str(exc)[:300]}" + (" (HF_HUB_OFFLINE is set)" if offline else "")
            raise TaskSourceError(
                f"could not load task {task.name!r} from the hub dataset {where}: {why}. {_offline_help(task, split)}"
            ) from exc
        rows.extend(dict(r) for r in part)
    return rows


def _rows(
    task: Task, split: str, source: str | os.PathLike[str] | None, wanted: set[str] | None
) -> tuple[str, Iterable[dict[str, Any]]]:
    """(where the rows come from, the native rows) for a file/hub task."""
    if source is not None and (isinstance(source, os.PathLike) or _looks_like_path(str(source))):
        path = _local_file(task, Path(source).expanduser(), split)
        return str(path), _read_jsonl(path)
    if source is None and task.hub_id is None:
        raise TaskSourceError(f"task {task.name!r} has no default hub dataset. {_offline_help(task, split)}")
    hub_id = task.hub_id if source is None else str(source)
    configs = task.hub_configs if hub_id == task.hub_id else (None,)
    if wanted is not None and task.hub_subject_configs and hub_id == task.hub_id:
        configs = tuple(c for c, s in zip(task.hub_configs, task.subjects, strict=True) if s in wanted)
    return f"hub dataset {hub_id}", _hub_rows(task, hub_id, split, configs)


def load_task(
    name: str,
    split: str = "train",
    *,
    source: str | os.PathLike[str] | None = None,
    subjects: Iterable[str] | str | None = None,
    limit: int | None = None,
    seed: int = 0,
    options: dict | None = None,
) -> Dataset:
    """The registered task `name` as a Dataset with columns prompt, answer, id and the task's own
    (subject, level for the MATH sets; solution for gsm8k, math and arith).

    `options`: settings of a generated task (for `arith`, fields of `gtpo.tasks.arith.ArithConfig`,
    e.g. {"max_steps": 1}); file and hub tasks take none."""
    task = get_task(name)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if task.generate is not None:
        if source is not None or subjects is not None:
            raise ValueError(f"task {name!r} is generated offline: it takes no source or subjects")
        if split not in task.splits:
            raise ValueError(f"task {name!r} has only the split(s) {', '.join(task.splits)}; got split={split!r}")
        return task.generate(split, limit, seed, options)
    if options:
        generated = [n for n, t in _TASKS.items() if t.generated]
        raise ValueError(
            f"task {name!r} takes no options (got {sorted(options)}); options are for generated tasks "
            f"({_quoted(generated)})"
        )
    if split not in task.splits:
        raise ValueError(f"task {name!r} has only the split(s) {', '.join(task.splits)}; got split={split!r}")
    wanted: set[str] | None = None
    if subjects is not None:
        if not task.subjects:
            with_subjects = [n for n, t in _TASKS.items() if t.subjects]
            raise ValueError(f"subjects= only applies to {_quoted(with_subjects)}, not {name!r}")
        if isinstance(subjects, str):
            subjects = [subjects]
        wanted = {match_subject(s, task.subjects) for s in subjects}
        if not wanted:
            raise ValueError(f"subjects= is empty; pass None for all or some of: {', '.join(task.subjects)}")

    origin, rows = _rows(task, split, source, wanted)
    examples, positions, skipped = [], [], []
    for index, row in enumerate(rows):
        try:
            example = task.convert(row, split, index)
        except RowError as exc:
            if exc.skippable:
                skipped.append(f"row {index} ({row.get('unique_id', row.get('id', 'no id'))}): {exc}")
                continue
            raise TaskSourceError(f"row {index} of {origin}: {exc}. Expected fields: {task.fields}") from None
        if wanted is None or example["subject"] in wanted:
            examples.append(example)
            positions.append(index)
    if skipped:
        warnings.warn(
            f"{origin}: skipped {len(skipped)} row(s) that task {name!r} cannot use: "
            + "; ".join(skipped[:5]),
            stacklevel=2,
        )
    ids = [example["id"] for example in examples]
    if len(set(ids)) != len(ids):  # e.g. a hub copy keyed by problem number within each exam
        duplicate = next(i for i in ids if ids.count(i) > 1)
        warnings.warn(
            f"{origin}: ids are not unique (e.g. {duplicate!r}); using '{split}-<row>' ids instead",
            stacklevel=2,
        )
        for position, example in zip(positions, examples, strict=True):
            example["id"] = f"{split}-{position}"
    if not examples:
        raise TaskSourceError(
            f"no rows for task {name!r} split {split!r} in {origin}"
            + (f" with subjects {sorted(wanted)}" if wanted else "")
        )
    if limit is not None:
        order = list(range(len(examples)))
        random.Random(seed).shuffle(order)
        examples = [examples[i] for i in order[:limit]]
    return Dataset.from_list(examples)
