"""The MATH task (competition mathematics, Hendrycks et al. 2021): original split, train 7,500, test 5,000.

Native fields: ``problem``, ``solution`` (the worked solution with the answer in ``\\boxed{...}``),
``type`` (the subject), ``level`` ("Level N") and optionally ``unique_id``. Examples: ``prompt``,
``answer`` (the last ``\\boxed{...}`` of the solution, `boxed_reference`), ``id`` (``unique_id``, else
``{split}/{subject_folder}/{row}``), ``subject`` (one of `MATH_SUBJECTS`), ``level`` (int 1-5, None for
the two "Level ?" rows of the train set) and ``solution`` (the solution text then the answer, in the
paper's format, the target of `gtpo sft`).

A solution that is present but whose final answer cannot be extracted (the original train set has two,
train/number_theory/7115.json and 7117.json, with an empty ``\\boxed{}``) is skipped with a warning, so
the standard data loads 7,498 of 7,500 train rows. The hub copy has one config per subject; a subject
selection reads only those. `MATH_SUBJECTS`, `canonical_subject` and `math_example` also serve
`gtpo.tasks.math500`.
"""

from __future__ import annotations

import re
from typing import Any

from gtpo.tasks.answers import boxed_reference
from gtpo.tasks.base import RowError, Task, match_subject, row_answer, row_field, row_prompt
from gtpo.tasks.prompts import format_completion
from gtpo.tasks.registry import register_task

MATH_SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)

FIELDS = (
    "problem (str), solution (str with \\boxed{...}), type (subject), level ('Level N'), optional unique_id"
)


def canonical_subject(name: str) -> str:
    """'counting_and_probability' / 'COUNTING & PROBABILITY' -> 'Counting & Probability'."""
    return match_subject(name, MATH_SUBJECTS, "MATH")


def subject_folder(subject: str) -> str:
    """'Counting & Probability' -> 'counting_and_probability' (MATH's folder and hub config names)."""
    return subject.lower().replace(" & ", "_and_").replace(" ", "_")


def level(value: Any) -> int | None:
    """'Level 3' / 3 -> 3; None when there is no number ('Level ?')."""
    match = re.search(r"\d+", str(value)) if value is not None else None
    return int(match.group()) if match else None


def math_example(
    row: dict[str, Any], split: str, index: int, prompt: list[dict[str, str]], answer: str
) -> dict[str, Any]:
    """{prompt, answer, id, subject, level} of a MATH-style row: its subject (``type`` or ``subject``),
    level and id read from `row`."""
    subject_raw = row_field(row, "type", "subject")
    try:
        subject = canonical_subject(str(subject_raw))
    except ValueError as exc:
        raise RowError("type", str(exc)) from None
    return {
        "prompt": prompt,
        "answer": answer,
        "id": str(row.get("unique_id") or f"{split}/{subject_folder(subject)}/{index}"),
        "subject": subject,
        "level": level(row.get("level")),
    }


def convert(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    """One MATH row -> {prompt, answer, id, subject, level, solution}."""
    prompt = row_prompt(row, "problem")
    answer = row_answer("solution", boxed_reference, row_field(row, "solution"), skippable=True)
    example = math_example(row, split, index, prompt, answer)
    example["solution"] = format_completion(str(row["solution"]), answer)
    return example


TASK = register_task(
    Task(
        name="math",
        splits=("train", "test"),
        fields=FIELDS,
        convert=convert,
        hub_id="EleutherAI/hendrycks_math",
        hub_configs=tuple(subject_folder(s) for s in MATH_SUBJECTS),
        hub_splits={"train": "train", "test": "test"},
        subjects=MATH_SUBJECTS,
        hub_subject_configs=True,
        has_solutions=True,
        description="MATH competition problems, seven subjects, levels 1-5 (boxed answers, worked solutions)",
    )
)
