"""Math reasoning tasks as `datasets.Dataset`s with the paper's chat prompt, behind a registry.

load_task(name, split="train", *, source=None, subjects=None, limit=None, seed=0, options=None) -> Dataset
    columns prompt, answer, id (+ subject, level for math/math500; + solution, the reference completion,
    for gsm8k, math, arith, explain). Sources, selection and errors: `gtpo.tasks.registry`.
Task, register_task, get_task, task_names,     the registry (`gtpo.tasks.base`, `gtpo.tasks.registry`)
unregister_task
RowError, row_field, row_prompt, row_answer    helpers for a task's convert function
parse_options                                  a generated task's options from a recipe or the command line
SYSTEM_PROMPT, build_prompt, format_completion `gtpo.tasks.prompts`
gsm8k_reference, boxed_reference, ...          `gtpo.tasks.answers` (reference final answers)

Built-in tasks, one module each, registered on import of this package: gsm8k (`gtpo.tasks.gsm8k`),
math (`gtpo.tasks.math`), math500, aime24 and aime25 (`gtpo.tasks.aime`), amc23, the generated
arith (`gtpo.tasks.arith`) and explain (`gtpo.tasks.explain`), and custom (`gtpo.tasks.custom`: your own
data, with prompt_field / answer_field / system_prompt options; sources in any format of
`gtpo.tasks.sources`). A task defined elsewhere registers itself when its module is imported.
"""

from gtpo.tasks.answers import (
    boxed_reference,
    float_reference,
    gsm8k_reasoning,
    gsm8k_reference,
    integer_reference,
)
from gtpo.tasks.base import RowError, Task, TaskSourceError, parse_options, row_answer, row_field, row_prompt
from gtpo.tasks.prompts import SYSTEM_PROMPT, build_prompt, format_completion
from gtpo.tasks.registry import get_task, load_task, register_task, task_names, unregister_task

# The built-in tasks register themselves on import, in the order `task_names()` lists them.
# isort: off
from gtpo.tasks import gsm8k, math, math500, aime, amc23, arith, explain, custom  # noqa: F401
# isort: on
from gtpo.tasks.math import MATH_SUBJECTS, canonical_subject

__all__ = [
    "MATH_SUBJECTS",
    "SYSTEM_PROMPT",
    "RowError",
    "Task",
    "TaskSourceError",
    "boxed_reference",
    "build_prompt",
    "canonical_subject",
    "float_reference",
    "format_completion",
    "get_task",
    "gsm8k_reasoning",
    "gsm8k_reference",
    "integer_reference",
    "load_task",
    "parse_options",
    "register_task",
    "row_answer",
    "row_field",
    "row_prompt",
    "task_names",
    "unregister_task",
]
