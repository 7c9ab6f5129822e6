"""The AIME 2024 and AIME 2025 tasks (American Invitational Mathematics Examination): 30 problems each, test only.

Native fields: the problem text (``problem``, or ``question`` / ``Problem`` in other copies), the
answer (``answer`` or ``Answer``: an integer 0-999, possibly as text with leading zeros) and an optional
id (``id``, ``ID`` or ``problem_idx``). Examples: ``prompt``, ``answer`` (a plain integer string,
"025" -> "25", `integer_reference`) and ``id`` (the row's id, else its position). The default hub
copies keep the problems in a single 'train' split, read as our 'test'.

`exam_example` also serves `gtpo.tasks.amc23`, whose rows have the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gtpo.tasks.answers import integer_reference
from gtpo.tasks.base import Task, row_answer, row_field, row_prompt
from gtpo.tasks.registry import register_task

FIELDS = "problem (str), answer (integer or integer string), optional id"


def exam_example(row: dict[str, Any], index: int, reference: Callable[[Any], str]) -> dict[str, Any]:
    """{prompt, answer, id} of a competition row; `reference` reads the answer (`integer_reference`)."""
    prompt = row_prompt(row, "problem", "question", "Problem")
    raw = row_field(row, "answer", "Answer")
    ident = row.get("id", row.get("ID", row.get("problem_idx", index)))
    return {"prompt": prompt, "answer": row_answer("answer", reference, raw), "id": str(ident)}


def convert(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    """One AIME row -> {prompt, answer, id}."""
    return exam_example(row, index, integer_reference)


AIME24 = register_task(
    Task(
        name="aime24",
        splits=("test",),
        fields=FIELDS,
        convert=convert,
        hub_id="HuggingFaceH4/aime_2024",
        hub_splits={"test": "train"},
        description="AIME 2024, 30 problems with integer answers",
    )
)
AIME25 = register_task(
    Task(
        name="aime25",
        splits=("test",),
        fields=FIELDS,
        convert=convert,
        hub_id="MathArena/aime_2025",
        hub_splits={"test": "train"},
        description="AIME 2025, 30 problems with integer answers",
    )
)
