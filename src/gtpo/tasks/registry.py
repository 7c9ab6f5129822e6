"""The task registry and `load_task`: any registered task as a `datasets.Dataset`.

`register_task(Task(...))` adds a task under its name (each built-in task module registers itself
when `gtpo.tasks` is imported); `get_task(name)` and `task_names()` look them up.

`load_task(name, split, source=..., subjects=..., limit=..., seed=..., options=...)` builds the rows.
A generated task (`Task.generate`) makes them from `split`, `limit`, `seed` and `options`. A file/hub
task converts every native row with `Task.convert` (a task with `Task.options_type`, such as `custom`,
gets its settings built from `options` as a fourth argument); where the rows come from (`source`):
- a local data file in the task's native fields, used as the requested split as it is: JSONL, JSON (a
  list of objects), CSV or parquet, by suffix (`gtpo.tasks.sources`);
- a folder written by `datasets.save_to_disk` (a DatasetDict gives `split`, or its only split);
- a folder holding ``{split}.jsonl`` or ``{name}/{split}.jsonl`` (or .json, .csv, .parquet; so both
  ``data/gsm8k`` and ``data`` work for a folder laid out like the shared benchmark data);
- a hub dataset id ("owner/name"), read with `datasets.load_dataset` (the task's default id with its
  known split names; another id with `split`, or its only split if it has one);
- None: the task's default hub id (`Task.hub_id`). Offline, or when the hub fails, a
  `TaskSourceError` says to pass ``--source PATH`` and which fields the JSONL needs.
The package never assumes where local data lives.

Bad rows: a `RowError` from `convert` (a missing or empty field, an answer that cannot be read) is a
`TaskSourceError` that starts with where the row is, 1-based (``file.jsonl:LINE`` for JSONL and CSV,
``row N of SOURCE`` otherwise) and names the field; a skippable one drops the row with a warning
naming it. A column missing from some rows is None there. Rows whose ids repeat get ``{split}-{row}`` ids
instead, with a warning.

Selection: `subjects` (tasks with `Task.subjects`) keeps the named subjects, matched
case-insensitively with "_"/"&"/"and" variants ("counting_and_probability"). `limit` takes a
deterministic sample: the rows are shuffled with `random.Random(seed)` and the first `limit` kept, so a
smaller limit is a prefix of a larger one for the same seed. Without `limit` the native order is kept
and `seed` is unused.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import Dataset

from gtpo.tasks.base import RowError, Task, TaskSourceError, match_subject
from gtpo.tasks.sources import FORMATS, Located, is_saved_dataset, read_file, read_saved

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


def _local_rows(task: Task, path: Path, split: str) -> tuple[str, Iterable[Located]]:
    """(origin, located rows) of a local source: a data file, a save_to_disk folder, or a folder holding
    {split}.EXT or {name}/{split}.EXT (EXT: jsonl, json, csv, parquet)."""
    if path.is_file():
        return str(path), read_file(path)
    if is_saved_dataset(path):
        return str(path), read_saved(path, split)
    if path.is_dir():
        candidates = [folder / f"{split}{ext}" for folder in (path, path / task.name) for ext in FORMATS]
        for candidate in candidates:
            if candidate.is_file():
                return str(candidate), read_file(candidate)
        raise TaskSourceError(
            f"no {split}.jsonl for task {task.name!r} in {path}: looked for {split}.jsonl (or .json, .csv, "
            f".parquet) in {path} and {path / task.name}. Expected fields: {task.fields}"
        )
    raise TaskSourceError(
        f"--source {path} does not exist (a data file, a folder, or a hub id 'owner/name')"
    )


def _looks_like_path(source: str) -> bool:
    return (
        source.startswith((".", "/", "~"))
        or source.endswith(FORMATS)
        or source.count("/") != 1
        or os.path.exists(source)
    )


def _offline_help(task: Task, split: str) -> str:
    return (
        f"Pass --source PATH (Python: source=PATH) with the native JSONL: a {split}.jsonl file or a folder "
        f"holding {split}.jsonl or {task.name}/{split}.jsonl, with fields: {task.fields}"
    )


def _hub_rows(task: Task, hub_id: str, split: str, configs: tuple[str | None, ...]) -> list[Located]:
    """Rows of the hub dataset. The default id uses its known split names (`Task.hub_split`); another
    id uses `split`, or its only split when it has just one (AIME copies often say 'train')."""
    import datasets

    known = hub_id == task.hub_id
    rows: list[Located] = []
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
        rows.extend((f"row {number} of hub dataset {where}", dict(r)) for number, r in enumerate(part, start=1))
    return rows


def _rows(
    task: Task, split: str, source: str | os.PathLike[str] | None, wanted: set[str] | None
) -> tuple[str, Iterable[Located]]:
    """(where the rows come from, the native rows with their places) for a file/hub task."""
    if source is not None and (isinstance(source, os.PathLike) or _looks_like_path(str(source))):
        return _local_rows(task, Path(source).expanduser(), split)
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
    convert = task.convert
    if task.options_type is not None:  # a file/hub task with settings: convert(row, split, index, settings)
        settings = task.settings(options)
        convert = lambda row, split, index: task.convert(row, split, index, settings)  # noqa: E731
    elif options:
        with_options = [n for n, t in _TASKS.items() if t.options_type is not None]
        raise ValueError(
            f"task {name!r} takes no options (got {sorted(options)}); options are for {_quoted(with_options)}"
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
    for index, (where, row) in enumerate(rows):
        try:
            example = convert(row, split, index)
        except RowError as exc:
            if exc.skippable:
                skipped.append(f"{where} ({row.get('unique_id', row.get('id', 'no id'))}): {exc}")
                continue
            raise TaskSourceError(f"{where}: {exc}. Expected fields: {task.fields}") from None
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
    return _table(examples, origin)


def _table(examples: list[dict[str, Any]], origin: str) -> Dataset:
    """The examples as a Dataset; a column missing from some rows is None there (rows of a file may
    leave out optional fields), and a column whose values cannot share one type is named."""
    columns = list(dict.fromkeys(key for example in examples for key in example))
    try:
        return Dataset.from_dict({key: [example.get(key) for example in examples] for key in columns})
    except (TypeError, ValueError) as exc:  # pyarrow's ArrowInvalid / ArrowTypeError derive from these
        kinds = {key: sorted({type(e.get(key)).__name__ for e in examples} - {"NoneType"}) for key in columns}
        mixed = [f"{key!r} ({' and '.join(k)})" for key, k in kinds.items() if len(k) > 1]
        what = f"column {', '.join(mixed)} mixes types" if mixed else f"the rows do not form a table ({exc})"
        raise TaskSourceError(f"{origin}: {what}; give each column one type in every row") from None
