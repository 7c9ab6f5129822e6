"""Batch (TRL-shaped) reward functions: ``f(completions, **kwargs) -> list[float]``.

TRL's GRPOTrainer calls each reward function with ``prompts=``, ``completions=``,
``completion_ids=`` and every dataset column as a keyword (here ``answer``). A completion is either
a string or a chat list ``[{"role": "assistant", "content": ...}]`` (content may itself be a list of
``{"type": "text", "text": ...}`` parts); the text of the last message is scored.

One bad item never fails the batch: an exception while scoring it gives 0.0 and increments
``REWARD_ERRORS["format"]`` / ``REWARD_ERRORS["correctness"]``; checks past their deadline count in
the grader's ``stats``. Correctness checks of a batch go to the shared `Grader` in one call, so the
pool's workers check them in parallel. A grader that cannot start its workers at all raises (a
broken install must not silently train on zero rewards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtpo.rewards.extract import FORMAT_FULL, extract_answer, format_reward
from gtpo.rewards.pool import Grader, default_grader
from gtpo.rewards.scores import CORRECT

REWARD_ERRORS: dict[str, int] = {"format": 0, "correctness": 0}


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat messages (last message's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence) and completion:
        content = completion[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise TypeError(f"a completion must be a str or a list of chat messages, got {type(completion).__name__}")


def format_reward_func(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """The paper's format score (0..10) of each completion."""
    scores = []
    for completion in completions:
        try:
            scores.append(format_reward(completion_text(completion)))
        except Exception:
            REWARD_ERRORS["format"] += 1
            scores.append(0.0)
    return scores


def correctness_reward_func(
    completions: Sequence[Any],
    answer: Sequence[Any],
    *,
    grader: Grader | None = None,
    tolerance: str = "strict",
    **kwargs: Any,
) -> list[float]:
    """10.0 per completion that is fully formatted and whose final answer matches `answer[i]`.

    `grader` defaults to the shared `default_grader()`; pass one to control workers and deadline.
    `tolerance` is the numeric rule ("strict" or "paper", see `gtpo.rewards.grading`).
    """
    if len(completions) != len(answer):
        raise ValueError(f"got {len(completions)} completions but {len(answer)} answers")
    scores = [0.0] * len(completions)
    todo: list[tuple[int, str, str]] = []
    for i, (completion, ref) in enumerate(zip(completions, answer, strict=True)):
        try:
            text = completion_text(completion)
            if format_reward(text) != FORMAT_FULL:
                continue
            pred = extract_answer(text)
            if pred is not None:
                todo.append((i, pred, str(ref)))
        except Exception:
            REWARD_ERRORS["correctness"] += 1
    if todo:  # the grader never raises for answer text; a worker start-up failure does propagate
        verdicts = (grader or default_grader()).matches(
            [p for _, p, _ in todo], [r for _, _, r in todo], tolerance=tolerance
        )
        for (i, _, _), ok in zip(todo, verdicts, strict=True):
            scores[i] = CORRECT if ok else 0.0
    return scores


def reward_stats() -> dict[str, int]:
    """Counters since start: the default grader's (items, fast, symbolic, timeouts, errors, too_long,
    restarts) plus ``format_errors`` and ``correctness_errors`` from the batch functions."""
    stats = dict(default_grader().stats)
    stats.update({f"{key}_errors": value for key, value in REWARD_ERRORS.items()})
    return stats
