"""TRL-shaped reward functions built on `gtpo.rewards`.

TRL calls each reward function with the batch's `completions` plus every dataset column (here
`answer`) and a `log_metric` callback. The wrappers return the plain scores (format 0..10,
correctness 0/10) and report, through `log_metric`, the fraction of completions with a full score:
`format_rate` (format score 10) and `accuracy` (correctness 10). TRL averages these over processes and
logging steps, for GTPO and GRPO runs alike. TRL logs each function's mean reward as
`rewards/<name>/mean`, with `<name>` the function's `__name__` ("format", "correctness").

Your own reward: `rewards: [format, mypkg.rewards:length_penalty]` imports
`length_penalty(completion: str) -> float` or `length_penalty(completion: str, answer: str) -> float`
(a plain function, like the built-in scores; the arity is read from its signature when it is loaded)
and calls it once per completion. Every reward function runs under `gtpo.trl.safety.RewardGuard`
(the trainer wraps it): an exception, a non-finite value or a call past `reward_timeout` scores 0
and is counted in `reward_errors`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from gtpo import rewards as _rewards

FULL_SCORE = 10.0


def _full_score_fraction(scores: list[float]) -> float:
    return sum(1.0 for s in scores if s is not None and s >= FULL_SCORE) / max(len(scores), 1)


def format(completions: list[Any], log_metric: Callable[[str, float], None] | None = None, **_: Any) -> list[float]:  # noqa: A001
    """Paper's formatting score of each completion (0..10); logs `format_rate`."""
    scores = list(_rewards.format_reward_func(completions))
    if log_metric is not None:
        log_metric("format_rate", _full_score_fraction(scores))
    return scores


def correctness(
    completions: list[Any],
    answer: list[str],
    log_metric: Callable[[str, float], None] | None = None,
    *,
    answer_tolerance: str = "strict",
    **_: Any,
) -> list[float]:
    """10 if the completion is formatted and its answer matches the reference (numeric rule
    `answer_tolerance`: "strict" or "paper"), else 0; logs `accuracy`."""
    scores = list(_rewards.correctness_reward_func(completions, answer, tolerance=answer_tolerance))
    if log_metric is not None:
        log_metric("accuracy", _full_score_fraction(scores))
    return scores


def correctness_with(answer_tolerance: str) -> Callable[..., list[float]]:
    """`correctness` with a fixed numeric rule, still named "correctness" (TRL logs rewards by name)."""
    _rewards.check_tolerance(answer_tolerance)
    if answer_tolerance == "strict":
        return correctness

    def scored(completions: list[Any], answer: list[str], log_metric=None, **kwargs: Any) -> list[float]:
        kwargs.pop("answer_tolerance", None)
        return correctness(completions, answer, log_metric, answer_tolerance=answer_tolerance, **kwargs)

    scored.__name__ = scored.__qualname__ = "correctness"
    return scored


REWARD_FUNCS: dict[str, Callable[..., list[float]]] = {"format": format, "correctness": correctness}


def _takes_answer(func: Callable[..., Any], spec: str) -> bool:
    """True for f(completion, answer), False for f(completion); ValueError for any other signature."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature: assume the documented two-argument form
        return True
    for args in (("completion", "answer"), ("completion",)):
        try:
            signature.bind(*args)
        except TypeError:
            continue
        return len(args) == 2
    raise ValueError(f"rewards: {spec!r} has signature {signature}; a reward takes one completion string, "
                     "optionally the reference answer: f(completion: str) -> float or f(completion: str, answer: str) -> float")


def custom(spec: str) -> Callable[..., list[float]]:
    """'module:function' -> a TRL reward calling function(completion_text[, answer]) once per completion."""
    module_name, _, name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"rewards: cannot load {spec!r} ({type(err).__name__}: {err}); give 'module:function' "
                         "with the module importable (on PYTHONPATH or installed)") from err
    if not callable(func):
        raise ValueError(f"rewards: {spec!r} is a {type(func).__name__}, not a function (completion[, answer]) -> float")
    takes_answer = _takes_answer(func, spec)

    def batch(completions: list[Any], answer: list[str] | None = None, **_: Any) -> list[float]:
        if not takes_answer:
            return [func(_rewards.completion_text(c)) for c in completions]
        answers = answer if answer is not None else [None] * len(completions)
        return [func(_rewards.completion_text(c), a) for c, a in zip(completions, answers, strict=True)]

    batch.__name__ = name
    return batch


def reward_funcs(names: list[str], answer_tolerance: str = "strict") -> list[Callable[..., list[float]]]:
    """The TRL reward functions for `TaskArguments.rewards`, in order (matching `reward_weights`);
    'correctness' grades with the numeric rule `answer_tolerance` ("strict" or "paper")."""
    built = {"format": format, "correctness": correctness_with(answer_tolerance)}
    return [built[name] if name in built else custom(name) for name in names]
