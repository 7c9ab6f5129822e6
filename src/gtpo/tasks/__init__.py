"""Math reasoning tasks as `datasets.Dataset`s with the paper's chat prompt.

load_task(name, split="train", *, source=None, subjects=None, limit=None, seed=0) -> Dataset
    names: gsm8k, math, math500, aime24, aime25, amc23, arith; columns prompt, answer, id
    (+ subject, level for math/math500; + solution, the reference completion, for gsm8k, math, arith). See gtpo.tasks.loaders for sources and selection.
SYSTEM_PROMPT, build_prompt(problem)      gtpo.tasks.prompts
gsm8k_reference, boxed_reference, ...     gtpo.tasks.answers (reference final answers)
"""

from gtpo.tasks.answers import (
    boxed_reference,
    float_reference,
    gsm8k_reasoning,
    gsm8k_reference,
    integer_reference,
)
from gtpo.tasks.loaders import MATH_SUBJECTS, TASK_NAMES, TASKS, TaskSourceError, canonical_subject, load_task
from gtpo.tasks.prompts import SYSTEM_PROMPT, build_prompt, format_completion

__all__ = [
    "MATH_SUBJECTS",
    "SYSTEM_PROMPT",
    "TASKS",
    "TASK_NAMES",
    "TaskSourceError",
    "boxed_reference",
    "build_prompt",
    "canonical_subject",
    "float_reference",
    "format_completion",
    "gsm8k_reasoning",
    "gsm8k_reference",
    "integer_reference",
    "load_task",
]
