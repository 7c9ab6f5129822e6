"""The paper's rewards as plain ``str -> float`` functions, the correctness rule, and the registry.

    extract_answer(text) -> str | None        last <answer>...</answer>, stripped
    format_reward(text) -> float              0, 1, 1.5, 2 or FULL_SCORE (10) (gtpo.rewards.extract)
    answer_matches(pred, ref, *, timeout=5.0, tolerance="strict") -> bool
    correctness_reward(text, ref, *, tolerance="strict") -> float    FULL_SCORE or 0
    grade(texts, refs, ...) -> [Grade]        the one correctness rule, batched (gtpo.rewards.scores)
    last_boxed(text) -> str | None            reference answers of MATH-style solutions
`tolerance` is the numeric rule (`TOLERANCES`): "strict" (default) equates only equal values;
"paper" is the authors' absolute 1e-2 rule (see gtpo.rewards.grading).
Registry (`gtpo.rewards.registry`): `register_reward(name, fn)`, `get_reward(name)`, `reward_names()`;
built-ins "format" and "correctness". Grading pool: `Grader(num_workers, timeout)` (`.matches(preds,
refs)`, `.stats`, `.close()`, context manager), `default_grader()`.
"""

from gtpo.rewards.extract import FULL_SCORE, answer_ends_completion, extract_answer, format_reward, last_boxed
from gtpo.rewards.grading import (
    MAX_ANSWER_CHARS,
    TOLERANCES,
    check_tolerance,
    normalize_answer,
    quick_match,
    symbolic_match,
)
from gtpo.rewards.pool import Grader, default_grader
from gtpo.rewards.registry import Reward, get_reward, register_reward, reward_names
from gtpo.rewards.scores import Grade, answer_matches, correctness_reward, correctness_scores, grade

__all__ = [
    "FULL_SCORE",
    "MAX_ANSWER_CHARS",
    "TOLERANCES",
    "Grade",
    "Grader",
    "Reward",
    "answer_ends_completion",
    "answer_matches",
    "check_tolerance",
    "correctness_reward",
    "correctness_scores",
    "default_grader",
    "extract_answer",
    "format_reward",
    "get_reward",
    "grade",
    "last_boxed",
    "normalize_answer",
    "quick_match",
    "register_reward",
    "reward_names",
    "symbolic_match",
]
