"""The paper's rewards as plain ``str -> float`` functions, and the one correctness rule.

Correctness (spec "Rewards used in the paper"): a completion is *correct* when its format score is
the full score (`FULL_SCORE`, 10) AND the content of its last ``<answer>...</answer>`` matches the
reference (`answer_matches`: `grading.quick_match` first, undecided pairs to math-verify in a
`Grader`'s worker processes with a hard per-item deadline). `grade` applies that rule to a batch in
one grader call (the workers check the batch in parallel); `correctness_reward`, the batch
`correctness_scores` and the evaluation (`gtpo.eval.scoring`) all use it.

- `format_reward(text)` lives in `gtpo.rewards.extract` (0..10, the paper's partial-credit scheme).
- `correctness_reward(text, ref)`: `FULL_SCORE` when correct, else 0.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gtpo.rewards.extract import FULL_SCORE, extract_answer, format_reward
from gtpo.rewards.pool import Grader, default_grader


@dataclass(frozen=True)
class Grade:
    """One completion graded: its extracted answer (None: no answer block), format score, correctness."""

    answer: str | None
    format: float
    correct: bool


def grade(
    texts: Sequence[str],
    refs: Sequence[object],
    *,
    grader: Grader | None = None,
    timeout: float | None = None,
    tolerance: str = "strict",
) -> list[Grade]:
    """Grade each completion text against its reference answer with the correctness rule above.

    `grader` defaults to the shared `default_grader()`; `timeout` is the per-item deadline in seconds
    (None: the grader's); `tolerance` the numeric rule ("strict" or "paper", `gtpo.rewards.grading`).
    Never raises for odd text; a check past its deadline is not correct.
    """
    if len(texts) != len(refs):
        raise ValueError(f"got {len(texts)} completions but {len(refs)} reference answers")
    answers = [extract_answer(text) for text in texts]
    formats = [format_reward(text) for text in texts]
    todo = [i for i, (a, f) in enumerate(zip(answers, formats, strict=True)) if a is not None and f == FULL_SCORE]
    correct = [False] * len(texts)
    if todo:  # the grader never raises for answer text; a worker start-up failure does propagate
        verdicts = (grader or default_grader()).matches(
            [answers[i] for i in todo], [str(refs[i]) for i in todo], timeout=timeout, tolerance=tolerance
        )
        for i, ok in zip(todo, verdicts, strict=True):
            correct[i] = bool(ok)
    return [Grade(a, f, c) for a, f, c in zip(answers, formats, correct, strict=True)]


def answer_matches(pred: str, ref: str, *, timeout: float = 5.0, tolerance: str = "strict") -> bool:
    """Whether `pred` equals the reference `ref`: the same number (`tolerance="strict"`, the default;
    "paper" = within 1e-2 absolute, the authors' rule) or symbolically equivalent (`gtpo.rewards.grading`).

    Never raises for odd text; a check that passes `timeout` seconds is False and counted in
    `default_grader().stats["timeouts"]`.
    """
    return default_grader().matches([pred], [ref], timeout=timeout, tolerance=tolerance)[0]


def correctness_reward(text: str, ref: str, *, timeout: float = 5.0, tolerance: str = "strict") -> float:
    """`FULL_SCORE` if the completion is fully formatted and its final answer matches `ref`, else 0.0."""
    return FULL_SCORE if grade([text], [ref], timeout=timeout, tolerance=tolerance)[0].correct else 0.0


def correctness_scores(
    texts: Sequence[str], refs: Sequence[object], *, tolerance: str = "strict", grader: Grader | None = None
) -> list[float]:
    """`correctness_reward` of a batch, checked in one grader call."""
    return [FULL_SCORE if g.correct else 0.0 for g in grade(texts, refs, grader=grader, tolerance=tolerance)]
