"""Answer extraction, the paper's format/correctness rewards (0..10 each) and deadline-safe grading.

Plain ``str -> float`` functions:
    extract_answer(text) -> str | None        last <answer>...</answer>, stripped
    format_reward(text) -> float              0, 1, 1.5, 2 or 10 (see gtpo.rewards.extract)
    answer_matches(pred, ref, *, timeout=5.0, tolerance="strict") -> bool
    correctness_reward(text, ref, *, tolerance="strict") -> float    10 or 0
`tolerance` is the numeric rule (`TOLERANCES`): "strict" (default) equates only equal values;
"paper" is the authors' absolute 1e-2 rule (see gtpo.rewards.grading).
    last_boxed(text) -> str | None            reference answers of MATH-style solutions
Batch API: `Grader(num_workers, timeout)` (`.matches(preds, refs)`, `.stats`, `.close()`, context
manager) and the TRL-shaped `format_reward_func(completions, **kw)`,
`correctness_reward_func(completions, answer, **kw)`; counters via `reward_stats()`.
"""

from gtpo.rewards.batch import (
    REWARD_ERRORS,
    completion_text,
    correctness_reward_func,
    format_reward_func,
    reward_stats,
)
from gtpo.rewards.extract import answer_ends_completion, extract_answer, format_reward, last_boxed
from gtpo.rewards.grading import (
    MAX_ANSWER_CHARS,
    TOLERANCES,
    check_tolerance,
    normalize_answer,
    quick_match,
    symbolic_match,
)
from gtpo.rewards.pool import Grader, default_grader
from gtpo.rewards.scores import answer_matches, correctness_reward

__all__ = [
    "MAX_ANSWER_CHARS",
    "REWARD_ERRORS",
    "TOLERANCES",
    "check_tolerance",
    "Grader",
    "answer_ends_completion",
    "answer_matches",
    "completion_text",
    "correctness_reward",
    "correctness_reward_func",
    "default_grader",
    "extract_answer",
    "format_reward",
    "format_reward_func",
    "last_boxed",
    "normalize_answer",
    "quick_match",
    "reward_stats",
    "symbolic_match",
]
