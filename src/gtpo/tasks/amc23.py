"""The AMC 2023 task (American Mathematics Competitions, the 40 problems used by math-ai/amc23): test only.

Native fields: the problem text (``problem`` or ``question``), the answer (a number) and an optional
id. Examples: ``prompt``, ``answer`` (whole numbers as integers, "27.0" -> "27", others as the shortest
float text, `float_reference`) and ``id`` (the row's id, else its position).
"""

from __future__ import annotations

from typing import Any

from gtpo.tasks.aime import exam_example
from gtpo.tasks.answers import float_reference
from gtpo.tasks.base import Task
from gtpo.tasks.registry import register_task

FIELDS = "problem or question (str), answer (number), optional id"


def convert(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    """One AMC row -> {prompt, answer, id}."""
    return exam_example(row, index, float_reference)


TASK = register_task(
    Task(
        name="amc23",
        splits=("test",),
        fields=FIELDS,
        convert=convert,
        hub_id="math-ai/amc23",
        hub_splits={"test": "test"},
        description="AMC 2023, 40 problems with numeric answers",
    )
)
