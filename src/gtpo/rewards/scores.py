"""The paper's rewards as plain ``str -> float`` functions, and the deadline-safe `answer_matches`.

- `answer_matches(pred, ref)`: `grading.quick_match` first; undecided pairs go to math-verify in the
  shared default `Grader` (worker processes, hard per-item deadline), so it is safe from any thread.
- `correctness_reward(text, ref)`: 10.0 if `format_reward(text) == 10` and the last
  ``<answer>...</answer>`` matches `ref`, else 0.0 (spec "Rewards used in the paper").
- `format_reward` lives in `gtpo.rewards.extract` (0..10, the paper's partial-credit scheme).
"""

from __future__ import annotations

from gtpo.rewards.extract import FORMAT_FULL, extract_answer, format_reward
from gtpo.rewards.pool import default_grader

CORRECT = 10.0


def answer_matches(pred: str, ref: str, *, timeout: float = 5.0, tolerance: str = "strict") -> bool:
    """Whether `pred` equals the reference `ref`: the same number (`tolerance="strict"`, the default;
    "paper" = within 1e-2 absolute, the authors' rule) or symbolically equivalent (`gtpo.rewards.grading`).

    Never raises for odd text; a check that passes `timeout` seconds is False and counted in
    `default_grader().stats["timeouts"]`.
    """
    return default_grader().matches([pred], [ref], timeout=timeout, tolerance=tolerance)[0]


def correctness_reward(text: str, ref: str, *, timeout: float = 5.0, tolerance: str = "strict") -> float:
    """10.0 if the completion is fully formatted and its final answer matches `ref` (`answer_matches`
    with `tolerance`), else 0.0."""
    if format_reward(text) != FORMAT_FULL:
        return 0.0
    pred = extract_answer(text)
    if pred is None:
        return 0.0
    return CORRECT if answer_matches(pred, str(ref), timeout=timeout, tolerance=tolerance) else 0.0
