"""`load_task`: GSM8K, MATH, MATH-500, AIME 2024/2025, AMC 2023 (and `arith`) as `datasets.Dataset`.

Every task yields the columns ``prompt`` (chat messages: the paper's system prompt, then the problem,
`gtpo.tasks.prompts.build_prompt`), ``answer`` (reference final answer as text, see
`gtpo.tasks.answers`) and ``id`` (str); MATH and MATH-500 add ``subject`` (one of `MATH_SUBJECTS`)
and ``level`` (int 1-5, None for the two "Level ?" rows of MATH train). The training tasks (GSM8K,
MATH, arith) add ``solution``: the reference worked solution as a completion in the paper's format
(`format_completion`: GSM8K's steps without the ``<<...>>`` calculator notes, MATH's solution text,
each followed by the reference answer in ``<answer>``), the target of `gtpo sft`.

Where the data comes from (`source`):
- a local JSONL file in the benchmark's native fields (used as the requested split as it is);
- a folder holding ``{split}.jsonl`` or ``{name}/{split}.jsonl`` (so both ``data/gsm8k`` and
  ``data`` work for a folder laid out like the shared benchmark data);
- a hub dataset id ("owner/name"), read with `datasets.load_dataset` (the default ids with their
  known split names; another id with `split`, or its only split if it has one);
- None: the task's default hub id (`TASKS[name].hub_id`). Offline, or when the hub fails, a
  `TaskSourceError` says to pass ``--source PATH`` and which fields the JSONL needs.
The package never assumes where local data lives.

Bad rows: a missing or empty field (problem, answer, solution, subject) is a `TaskSourceError` naming
the row index (0-based, blank lines not counted), the field and the file. One exception: a MATH
solution that is present but whose final answer cannot be extracted (the original MATH train set
has two, train/number_theory/7115.json and 7117.json, with an empty ``\\boxed{}``) is skipped with a
warning naming the rows, so the standard data loads (7,498 of 7,500 train rows).

Selection: `subjects` (math/math500 only) keeps the named subjects, matched case-insensitively with
"_"/"&"/"and" variants ("counting_and_probability"). `limit` takes a deterministic sample: the rows
are shuffled with `random.Random(seed)` and the first `limit` kept, so a smaller limit is a prefix of
a larger one for the same seed. Without `limit` the native order is kept and `seed` is unused.
"""

from __future__ import annotations

import json
import os
import random
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset

from gtpo.tasks.answers import (
    boxed_reference,
    float_reference,
    gsm8k_reasoning,
    gsm8k_reference,
    integer_reference,
)
from gtpo.tasks.prompts import build_prompt, format_completion

MATH_SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)


class TaskSourceError(RuntimeError):
    """The task's data could not be found or read; the message says what to pass instead."""


@dataclass(frozen=True)
class TaskSpec:
    """How one benchmark is read: its splits, default hub location and native fields."""

    name: str
    splits: tuple[str, ...]
    hub_id: str
    hub_configs: tuple[str | None, ...]  # several: concatenated (MATH's per-subject configs)
    hub_splits: dict[str, str]  # our split -> the hub's split name
    fields: str  # human-readable description of the native JSONL fields, for error messages


TASKS: dict[str, TaskSpec] = {
    "gsm8k": TaskSpec(
        "gsm8k",
        ("train", "test"),
        "openai/gsm8k",
        ("main",),
        {"train": "train", "test": "test"},
        "question (str), answer (str: worked solution ending in '#### <final answer>')",
    ),
    "math": TaskSpec(
        "math",
        ("train", "test"),
        "EleutherAI/hendrycks_math",
        tuple(s.lower().replace(" & ", "_and_").replace(" ", "_") for s in MATH_SUBJECTS),
        {"train": "train", "test": "test"},
        "problem (str), solution (str with \\boxed{...}), type (subject), level ('Level N'), "
        "optional unique_id",
    ),
    "math500": TaskSpec(
        "math500",
        ("test",),
        "HuggingFaceH4/MATH-500",
        (None,),
        {"test": "test"},
        "problem (str), answer (str), subject (str), level (int), unique_id (str)",
    ),
    "aime24": TaskSpec(
        "aime24",
        ("test",),
        "HuggingFaceH4/aime_2024",
        (None,),
        {"test": "train"},
        "problem (str), answer (integer or integer string), optional id",
    ),
    "aime25": TaskSpec(
        "aime25",
        ("test",),
        "MathArena/aime_2025",
        (None,),
        {"test": "train"},
        "problem (str), answer (integer or integer string), optional id",
    ),
    "amc23": TaskSpec(
        "amc23",
        ("test",),
        "math-ai/amc23",
        (None,),
        {"test": "test"},
        "problem or question (str), answer (number), optional id",
    ),
}
TASK_NAMES = (*TASKS, "arith")


def _subject_key(name: str) -> str:
    key = name.strip().lower().replace("_", " ").replace("&", " and ")
    return " ".join(key.split())


_SUBJECT_BY_KEY = {_subject_key(s): s for s in MATH_SUBJECTS}


def canonical_subject(name: str) -> str:
    """'counting_and_probability' / 'COUNTING & PROBABILITY' -> 'Counting & Probability'."""
    subject = _SUBJECT_BY_KEY.get(_subject_key(name))
    if subject is None:
        raise ValueError(f"unknown MATH subject {name!r}; valid subjects: {', '.join(MATH_SUBJECTS)}")
    return subject


class _RowError(ValueError):
    def __init__(self, field: str, reason: str, skippable: bool = False):
        super().__init__(f"field {field!r} {reason}")
        self.skippable = skippable  # a present solution whose final answer cannot be extracted


def _field(row: dict[str, Any], *names: str) -> Any:
    """The first present, non-empty field among `names` (aliases), else a _RowError."""
    for name in names:
        value = row.get(name)
        if value is not None and (not isinstance(value, str) or value.strip()):
            return value
    missing = [n for n in names if n not in row]
    reason = "is missing" if len(missing) == len(names) else "is empty"
    raise _RowError(names[0], reason)


def _answer(field: str, convert: Callable[[Any], str], value: Any, skippable: bool = False) -> str:
    try:
        return convert(value)
    except ValueError as exc:
        raise _RowError(field, str(exc), skippable) from None


def _level(value: Any) -> int | None:
    match = re.search(r"\d+", str(value)) if value is not None else None
    return int(match.group()) if match else None


def _problem(row: dict[str, Any], *names: str) -> list[dict[str, str]]:
    problem = _field(row, *names)
    if not isinstance(problem, str):
        raise _RowError(names[0], f"is not text ({type(problem).__name__})")
    return build_prompt(problem)


def _gsm8k_solution(worked: object, answer: str) -> str | None:
    """The SFT target of a GSM8K row; None when the row has no worked steps (it still serves RL and eval)."""
    try:
        return format_completion(gsm8k_reasoning(str(worked)), answer)
    except ValueError:
        return None


def _convert(name: str, split: str, index: int, row: dict[str, Any]) -> dict[str, Any]:
    """One native row -> {prompt, answer, id[, subject, level]}; raises _RowError."""
    if name == "gsm8k":
        prompt = _problem(row, "question")
        answer = _answer("answer", gsm8k_reference, _field(row, "answer"))
        return {
            "prompt": prompt,
            "answer": answer,
            "id": str(row.get("id", f"{split}-{index}")),
            "solution": _gsm8k_solution(row["answer"], answer),
        }
    if name in ("math", "math500"):
        prompt = _problem(row, "problem")
        if name == "math":
            answer = _answer("solution", boxed_reference, _field(row, "solution"), skippable=True)
        else:
            answer = str(_field(row, "answer")).strip()
        subject_raw = _field(row, "type", "subject")
        try:
            subject = canonical_subject(str(subject_raw))
        except ValueError as exc:
            raise _RowError("type", str(exc)) from None
        folder = subject.lower().replace(" & ", "_and_").replace(" ", "_")
        example = {
            "prompt": prompt,
            "answer": answer,
            "id": str(row.get("unique_id") or f"{split}/{folder}/{index}"),
            "subject": subject,
            "level": _level(row.get("level")),
        }
        if name == "math":
            example["solution"] = format_completion(str(row["solution"]), answer)
        return example
    prompt = _problem(row, "problem", "question", "Problem")
    raw = _field(row, "answer", "Answer")
    convert = float_reference if name == "amc23" else integer_reference
    ident = row.get("id", row.get("ID", row.get("problem_idx", index)))
    return {"prompt": prompt, "answer": _answer("answer", convert, raw), "id": str(ident)}


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


def _local_file(spec: TaskSpec, path: Path, split: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        candidates = [path / f"{split}.jsonl", path / spec.name / f"{split}.jsonl"]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise TaskSourceError(
            f"no {split}.jsonl for task {spec.name!r} in {path}: looked for "
            f"{' and '.join(str(c) for c in candidates)}. Expected JSONL fields: {spec.fields}"
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


def _offline_help(spec: TaskSpec, split: str) -> str:
    return (
        f"Pass --source PATH (Python: source=PATH) with the native JSONL: a {split}.jsonl file or a folder "
        f"holding {split}.jsonl or {spec.name}/{split}.jsonl, with fields: {spec.fields}"
    )


def _hub_rows(
    spec: TaskSpec, hub_id: str, split: str, configs: tuple[str | None, ...]
) -> list[dict[str, Any]]:
    """Rows of the hub dataset. The default ids use their known split names (`spec.hub_splits`);
    another id uses `split`, or its only split when it has just one (AIME copies often say 'train')."""
    import datasets

    known = hub_id == spec.hub_id
    rows: list[dict[str, Any]] = []
    for config in configs:
        where = hub_id + (f" (config {config!r})" if config else "")
        try:
            if known:
                part = datasets.load_dataset(hub_id, config, split=spec.hub_splits[split])
            else:
                splits = datasets.load_dataset(hub_id, config)
                if split not in splits and len(splits) != 1:
                    raise TaskSourceError(
                        f"hub dataset {where} has no split {split!r} (it has {', '.join(splits)}). "
                        f"{_offline_help(spec, split)}"
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
                f"could not load task {spec.name!r} from the hub dataset {where}: {why}. {_offline_help(spec, split)}"
            ) from exc
        rows.extend(dict(r) for r in part)
    return rows


def load_task(
    name: str,
    split: str = "train",
    *,
    source: str | os.PathLike[str] | None = None,
    subjects: Iterable[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    options: dict | None = None,
) -> Dataset:
    """The task `name` as a Dataset with columns prompt, answer, id (+ subject, level for MATH sets;
    + solution for gsm8k, math and arith).

    `options`: settings of a generated task (for `arith`, fields of `gtpo.tasks.arith.ArithConfig`,
    e.g. {"max_steps": 1}); the downloaded benchmarks take none."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASK_NAMES)}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if name == "arith":
        if source is not None or subjects is not None:
            raise ValueError("task 'arith' is generated offline: it takes no source or subjects")
        from gtpo.tasks.arith import arith_config, build_dataset

        return build_dataset(split, n=limit, seed=seed, config=arith_config(options))
    if options:
        raise ValueError(f"task {name!r} takes no options (got {sorted(options)}); options are for 'arith'")
    spec = TASKS[name]
    if split not in spec.splits:
        raise ValueError(f"task {name!r} has only the split(s) {', '.join(spec.splits)}; got split={split!r}")
    wanted: set[str] | None = None
    if subjects is not None:
        if name not in ("math", "math500"):
            raise ValueError(f"subjects= only applies to 'math' and 'math500', not {name!r}")
        if isinstance(subjects, str):
            subjects = [subjects]
        wanted = {canonical_subject(s) for s in subjects}
        if not wanted:
            raise ValueError(f"subjects= is empty; pass None for all or some of: {', '.join(MATH_SUBJECTS)}")

    if source is not None and (isinstance(source, os.PathLike) or _looks_like_path(str(source))):
        path = _local_file(spec, Path(source).expanduser(), split)
        origin, rows = str(path), _read_jsonl(path)
    else:
        hub_id = spec.hub_id if source is None else str(source)
        configs = spec.hub_configs if hub_id == spec.hub_id else (None,)
        if wanted is not None and name == "math" and hub_id == spec.hub_id:
            configs = tuple(c for c, s in zip(spec.hub_configs, MATH_SUBJECTS, strict=True) if s in wanted)
        origin, rows = f"hub dataset {hub_id}", _hub_rows(spec, hub_id, split, configs)

    examples, positions, skipped = [], [], []
    for index, row in enumerate(rows):
        try:
            example = _convert(name, split, index, row)
        except _RowError as exc:
            if exc.skippable:
                skipped.append(f"row {index} ({row.get('unique_id', 'no id')}): {exc}")
                continue
            raise TaskSourceError(f"row {index} of {origin}: {exc}. Expected fields: {spec.fields}") from None
        if wanted is None or example["subject"] in wanted:
            examples.append(example)
            positions.append(index)
    if skipped:
        warnings.warn(
            f"{origin}: skipped {len(skipped)} row(s) whose solution has no usable final answer: "
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
