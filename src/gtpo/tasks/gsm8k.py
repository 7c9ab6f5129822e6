"""The GSM8K task (grade-school math word problems, Cobbe et al. 2021): train 7,473, test 1,319.

Native fields: ``question`` and ``answer``, the worked solution with calculator notes ``<<a*b=c>>``
ending in ``#### <final answer>``. Examples: ``prompt``, ``answer`` (the text after the last ``####``,
thousands separators removed, `gsm8k_reference`), ``id`` (the row's ``id`` or ``{split}-{row}``) and
``solution``: the worked steps without the calculator notes, then the answer, in the paper's format
(`format_completion`), the target of `gtpo sft`; None for a row without worked steps (it still
serves RL and evaluation).
"""

from __future__ import annotations

from typing import Any

from gtpo.tasks.answers import gsm8k_reasoning, gsm8k_reference
from gtpo.tasks.base import Task, row_answer, row_field, row_prompt
from gtpo.tasks.prompts import format_completion
from gtpo.tasks.registry import register_task

FIELDS = "question (str), answer (str: worked solution ending in '#### <final answer>')"


def gsm8k_solution(worked: object, answer: str) -> str | None:
    """The SFT target of a GSM8K row; None when the row has no worked steps."""
    try:
        return format_completion(gsm8k_reasoning(str(worked)), answer)
    except ValueError:
        return None


def convert(row: dict[str, Any], split: str, index: int) -> dict[str, Any]:
    """One GSM8K row -> {prompt, answer, id, solution}."""
    prompt = row_prompt(row, "question")
    answer = row_answer("answer", gsm8k_reference, row_field(row, "answer"))
    return {
        "prompt": prompt,
        "answer": answer,
        "id": str(row.get("id", f"{split}-{index}")),
        "solution": gsm8k_solution(row["answer"], answer),
    }


TASK = register_task(
    Task(
        name="gsm8k",
        splits=("train", "test"),
        fields=FIELDS,
        convert=convert,
        hub_id="openai/gsm8k",
        hub_configs=("main",),
        hub_splits={"train": "train", "test": "test"},
        has_solutions=True,
        description="GSM8K grade-school math word problems (integer answers, worked solutions)",
    )
)
