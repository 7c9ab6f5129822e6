"""The MATH-500 task (PRM800K's 500-problem test subset of MATH, as in Lightman et al. 2023): test only.

Native fields: ``problem``, ``answer`` (the boxed expression, already extracted), ``subject``,
``level`` (int) and ``unique_id``. Examples: ``prompt``, ``answer`` (the field, stripped), ``id``
(``unique_id``, else ``{split}/{subject_folder}/{row}``), ``subject`` (one of `MATH_SUBJECTS`) and
``level``. There is no ``solution`` column: the set is for evaluation.
"""

from __future__ import annotations

from typing import Any

from gtpo.tasks.base import Task, row_field, row_prompt
from gtpo.tasks.math import MATH_SUBJECTS, math_example
from gtpo.tasks.registry import register_task

FIELDS = "problem (str), answer (str), subject (str), level (int), unique_id (str)"


def convert(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    """One MATH-500 row -> {prompt, answer, id, subject, level}."""
    prompt = row_prompt(row, "problem")
    answer = str(row_field(row, "answer")).strip()
    return math_example(row, split, index, prompt, answer)


TASK = register_task(
    Task(
        name="math500",
        splits=("test",),
        fields=FIELDS,
        convert=convert,
        hub_id="HuggingFaceH4/MATH-500",
        hub_splits={"test": "test"},
        subjects=MATH_SUBJECTS,
        description="MATH-500 evaluation subset of MATH (boxed answers)",
    )
)
