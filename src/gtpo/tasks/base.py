"""What a task is: the `Task` dataclass, the errors a task raises, and helpers for writing one.

A task turns its data into rows of a `datasets.Dataset` with the columns ``prompt`` (chat messages,
`gtpo.tasks.prompts.build_prompt`), ``answer`` (the reference final answer as text) and ``id`` (str),
plus any columns of its own (``subject``/``level`` for MATH, ``solution`` for tasks with reference
completions). A task either reads rows from a JSONL file or a hub dataset and converts each one
(`Task.convert`), or generates its rows (`Task.generate`). `gtpo.tasks.registry` keeps the tasks by
name and loads them (`load_task`).

The helpers `row_field`, `row_prompt` and `row_answer` read a native row inside a `convert` function
and raise `RowError`, which `load_task` turns into a `TaskSourceError` naming the row, field and file.
`parse_options` reads the options of a generated task as given in a recipe or on the command line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from datasets import Dataset

from gtpo.tasks.prompts import build_prompt

Example = dict[str, Any]
ConvertFn = Callable[[dict[str, Any], str, int], Example]
GenerateFn = Callable[[str, int | None, int, dict | None], Dataset]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class TaskSourceError(RuntimeError):
    """The task's data could not be found or read; the message says what to pass instead."""


class RowError(ValueError):
    """One native row is unusable: ``field`` and why. `load_task` adds the row index and the file.

    ``skippable``: the row is dropped with a warning instead of failing the load (MATH's two solutions
    with an empty ``\\boxed{}``)."""

    def __init__(self, field: str, reason: str, skippable: bool = False):
        super().__init__(f"field {field!r} {reason}")
        self.field = field
        self.skippable = skippable


def problem_lines(iter_problems: Callable[..., Iterator[Any]], splits: tuple[str, ...], n: int, seed: int,
                  config: Any) -> Iterator[str]:  # fmt: skip
    """A generated task's questions and solutions, n // 2 problems per split, as lines of text (for training a
    tokenizer): `iter_problems(split, seed, config)` yields problems with `.question` and `.solution`."""
    for split in splits:
        stream = iter_problems(split, seed, config)
        for _ in range(n // 2):
            problem = next(stream)
            yield problem.question
            yield problem.solution


def options_config(config_type: type, options: Mapping[str, Any] | None, task: str) -> Any:
    """`config_type(**options)` for a generated task's options; a ValueError names the unknown keys and the
    valid ones."""
    import dataclasses

    options = dict(options or {})
    known = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"{task} options {unknown} are unknown; use fields of {config_type.__name__}: {', '.join(sorted(known))}"
        )
    return config_type(**options)


@dataclass(frozen=True)
class Task:
    """One task: where its rows come from and how a native row becomes an example.

    A file/hub task sets `convert` (and `fields`, and usually `hub_id`); a generated task sets
    `generate` (and optionally `options_type`). Exactly one of the two is required.

    Attributes:
        name: the name passed to `load_task` and ``--task`` ("gsm8k").
        splits: the splits it has, e.g. ("train", "test").
        fields: the native JSONL fields in words, shown in error messages (what a file must hold).
        convert: ``convert(row, split, index) -> example``: one native row (a dict; `index` is its
            0-based position, blank lines not counted) -> a dict with at least ``prompt``, ``answer``
            and ``id`` (a key missing from some rows is None there). Raise `RowError` for a bad row.
            With `options_type` set it is ``convert(row, split, index, settings)``, `settings` an
            instance of `options_type` built from the load's options (`Task.settings`).
        hub_id: the default hub dataset ("owner/name") read when no source is given; None: the task
            needs a source.
        hub_configs: the hub configs to read and concatenate (None: the default config).
        hub_splits: our split -> the default hub dataset's split name (missing: the same name).
        subjects: the subjects `load_task(subjects=...)` can select; `convert` then puts one of them in
            ``example["subject"]``. Empty: the task has no subjects.
        hub_subject_configs: `hub_configs[i]` holds `subjects[i]` only, so a subject selection reads
            just those configs of the default hub dataset (MATH's per-subject configs).
        generate: ``generate(split, n, seed, options) -> Dataset`` for a generated task: `n` rows (None:
            the task's default size), seeded by `seed`; `options` (a dict or None) are checked by the
            task itself.
        options_type: the dataclass whose fields are the task's options. A generated task's
            `generate` checks them itself (this is documentation and help); a file/hub task gets them
            as `convert`'s fourth argument (the `custom` task's prompt_field, answer_field, ...).
        has_solutions: the examples carry a ``solution`` column (a reference completion for SFT).
        description: one line for listings.
    """

    name: str
    splits: tuple[str, ...]
    fields: str = ""
    convert: ConvertFn | None = None
    hub_id: str | None = None
    hub_configs: tuple[str | None, ...] = (None,)
    hub_splits: Mapping[str, str] = field(default_factory=dict)
    subjects: tuple[str, ...] = ()
    hub_subject_configs: bool = False
    generate: GenerateFn | None = None
    options_type: type | None = None
    has_solutions: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        def bad(reason: str) -> ValueError:
            return ValueError(f"Task {self.name!r}: {reason}")

        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"Task name must be letters, digits, '_', '-', '.' (got {self.name!r})")
        if isinstance(self.splits, str):
            raise bad(f"splits must be a tuple of split names, not the string {self.splits!r}")
        object.__setattr__(self, "splits", tuple(self.splits))
        object.__setattr__(self, "hub_configs", tuple(self.hub_configs))
        object.__setattr__(self, "subjects", tuple(self.subjects))
        object.__setattr__(self, "hub_splits", MappingProxyType(dict(self.hub_splits)))
        if not self.splits or not all(isinstance(s, str) and s for s in self.splits):
            raise bad(f"splits must be a non-empty tuple of names, got {self.splits!r}")
        if (self.convert is None) == (self.generate is None):
            raise bad("set exactly one of convert (rows from a file or the hub) and generate")
        for attr in ("convert", "generate"):
            value = getattr(self, attr)
            if value is not None and not callable(value):
                raise bad(f"{attr} must be callable, got {type(value).__name__}")
        if self.generate is not None:
            if self.hub_id is not None or self.subjects:
                raise bad("a generated task takes no hub_id or subjects")
        elif not self.fields:
            raise bad("fields must describe the native JSONL fields (shown when a row is bad)")
        if self.hub_id is not None and (not isinstance(self.hub_id, str) or self.hub_id.count("/") != 1):
            raise bad(f"hub_id must look like 'owner/name', got {self.hub_id!r}")
        if not self.hub_configs:
            raise bad("hub_configs must not be empty; (None,) reads the default config")
        unknown = sorted(set(self.hub_splits) - set(self.splits))
        if unknown:
            raise bad(f"hub_splits names splits it does not have: {unknown}")
        if len(set(self.subjects)) != len(self.subjects):
            raise bad(f"subjects repeat: {self.subjects!r}")
        if self.hub_subject_configs and len(self.hub_configs) != len(self.subjects):
            raise bad("hub_subject_configs needs one hub config per subject")

    @property
    def generated(self) -> bool:
        """True for a generated task (no source, no subjects)."""
        return self.generate is not None

    def settings(self, options: Mapping[str, Any] | None) -> Any:
        """`options_type(**options)` for a file/hub task with options; a ValueError names an unknown key
        and the valid ones."""
        import dataclasses

        assert self.options_type is not None
        names = [f.name for f in dataclasses.fields(self.options_type) if f.init]
        unknown = sorted(set(options or {}) - set(names))
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown option(s) {unknown}; valid: {', '.join(names)}")
        return self.options_type(**(options or {}))

    def hub_split(self, split: str) -> str:
        """The default hub dataset's name for our `split`."""
        return self.hub_splits.get(split, split)


def row_field(row: Mapping[str, Any], *names: str) -> Any:
    """The first present, non-empty field among `names` (aliases), else a `RowError` naming names[0]."""
    for name in names:
        value = row.get(name)
        if value is not None and (not isinstance(value, str) or value.strip()):
            return value
    missing = [n for n in names if n not in row]
    reason = "is missing" if len(missing) == len(names) else "is empty"
    raise RowError(names[0], reason)


def row_prompt(row: Mapping[str, Any], *names: str) -> list[dict[str, str]]:
    """The chat prompt (`build_prompt`) of the problem text in the first of `names` present."""
    problem = row_field(row, *names)
    if not isinstance(problem, str):
        raise RowError(names[0], f"is not text ({type(problem).__name__})")
    return build_prompt(problem)


def row_answer(field: str, reference: Callable[[Any], str], value: Any, skippable: bool = False) -> str:
    """``reference(value)`` (e.g. `gtpo.tasks.answers.gsm8k_reference`); its ValueError becomes a
    `RowError` on `field`."""
    try:
        return reference(value)
    except ValueError as exc:
        raise RowError(field, str(exc), skippable) from None


def subject_key(name: str) -> str:
    """A subject name for matching: lower case, '_'/'&'/'and' variants made equal."""
    key = name.strip().lower().replace("_", " ").replace("&", " and ")
    return " ".join(key.split())


def match_subject(name: str, subjects: tuple[str, ...], what: str = "") -> str:
    """The entry of `subjects` that `name` means (`subject_key`), else a ValueError listing them;
    `what` names the kind of subject in the message ("MATH")."""
    for subject in subjects:
        if subject_key(subject) == subject_key(name):
            return subject
    kind = f"{what} subject" if what else "subject"
    raise ValueError(f"unknown {kind} {name!r}; valid subjects: {', '.join(subjects)}")


def parse_options(value: dict | str | None, name: str = "task_options") -> dict | None:
    """A task-options value as given in a recipe or on the command line (a mapping, or JSON text) -> dict
    or None; errors name `name` and show the expected form. The task checks the keys itself."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as err:
            raise ValueError(f"{name}={value!r}: not a JSON mapping ({err})") from err
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{name}={value!r}: must be a mapping such as {{\"max_steps\": 1}}")
    return value
