"""TRL-shaped reward functions built from `gtpo.rewards` registry entries.

TRL calls each reward function with the batch's `completions` plus every dataset column (here
`answer`) and a `log_metric` callback. `trl_reward(reward)` returns such a function: it takes the
text of each completion (`completion_text`: a string, or the last chat message's content), scores the
batch with the entry (`Reward.score`), and, for entries with a `rate_metric`, reports through
`log_metric` the share of completions with the full score: `format_rate` (format score 10) and
`accuracy` (correctness 10). TRL averages these over processes and logging steps, for GTPO and GRPO
runs alike, and logs each function's mean reward as `rewards/<name>/mean`.

Every reward function runs under the run guards (`gtpo.run.guards.RewardGuard`, applied by the
trainer) unless `reward_guard` is off: an exception, a non-finite value or a call past `reward_timeout`
scores 0 and is counted in `reward_errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gtpo.rewards import Reward
from gtpo.run.rewards import load_rewards


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat messages (last message's content; a list of
    `{"type": "text", "text": ...}` parts is joined)."""
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


def trl_reward(reward: Reward) -> Callable[..., list[float]]:
    """`reward` in TRL's convention: f(completions, answer=None, log_metric=None, **columns) -> list[float]
    (a reward already in that convention is returned as it is)."""
    if reward.batch_convention:
        return reward.fn

    def scored(
        completions: list[Any],
        answer: list[str] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        scores = reward.score([completion_text(c) for c in completions], answer)
        if reward.rate_metric is not None and log_metric is not None:
            full = sum(1.0 for s in scores if s is not None and s >= reward.full_score)
            log_metric(reward.rate_metric, full / max(len(scores), 1))
        return scores

    scored.__name__ = scored.__qualname__ = reward.name  # TRL logs rewards/<name>/mean
    return scored


def reward_funcs(names: list[str], answer_tolerance: str = "strict") -> list[Callable[..., list[float]]]:
    """The TRL reward functions for `RewardArguments.rewards`, in order (matching `reward_weights`);
    'correctness' grades with the numeric rule `answer_tolerance` ("strict" or "paper")."""
    return [trl_reward(reward) for reward in load_rewards(names, answer_tolerance=answer_tolerance)]
