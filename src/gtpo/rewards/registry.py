"""The reward registry: one table from a reward's name to its plain ``str -> float`` function.

A reward is `f(completion: str) -> float`, or `f(completion: str, answer: str) -> float` when it
compares with the task's reference answer (`Reward.takes_answer`, read from the signature). An entry
may also carry:
- `batch(texts, answers) -> list[float]`: the same scores for a whole batch at once (the built-in
  correctness reward checks a batch in one call to the grading pool, whose workers run in parallel);
- `options`: the keyword options it accepts from a run (the built-in correctness reward takes
  `tolerance`, set by a run's `answer_tolerance`);
- `rate_metric`: the name of the share of completions with `full_score` that training logs
  (`format_rate`, `accuracy`);
- `batch_convention`: the function is already a batch function in TRL's convention
  (`f(completions=[...], **dataset_columns) -> list`, sync or async, `log_extra` / `log_metric` allowed):
  engines call it as it is.

Built-ins: "format" (the paper's 0..10 formatting score) and "correctness" (10 when correct, see
`gtpo.rewards.scores`). `register_reward` adds one; engines (`gtpo.trl.rewards`) wrap the entries in
their own calling convention.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gtpo.rewards.extract import FULL_SCORE, format_reward
from gtpo.rewards.scores import correctness_reward, correctness_scores


@dataclass(frozen=True)
class Reward:
    """One registered reward (see the module docstring for each field's role)."""

    name: str
    fn: Callable[..., float]
    takes_answer: bool
    batch: Callable[..., list[float]] | None = None
    options: tuple[str, ...] = ()
    rate_metric: str | None = None
    full_score: float = FULL_SCORE
    option_values: dict = field(default_factory=dict)
    batch_convention: bool = False  # fn is already f(completions=[...], **dataset_columns) -> list (TRL's)

    def with_options(self, **values: object) -> Reward:
        """This reward with the given options fixed (those it does not take are ignored)."""
        taken = {k: v for k, v in values.items() if k in self.options}
        return dataclasses.replace(self, option_values={**self.option_values, **taken})

    def score(self, texts: Sequence[str], answers: Sequence[object] | None = None) -> list[float]:
        """The scores of a batch of completion texts (`answers` needed when `takes_answer`)."""
        if self.takes_answer:
            if answers is None:
                raise ValueError(f"reward {self.name!r} compares with the reference answer: the task has no 'answer' column")
            if self.batch is not None:
                return list(self.batch(list(texts), list(answers), **self.option_values))
            return [self.fn(t, a, **self.option_values) for t, a in zip(texts, answers, strict=True)]
        if self.batch is not None:
            return list(self.batch(list(texts), **self.option_values))
        return [self.fn(t, **self.option_values) for t in texts]


_REGISTRY: dict[str, Reward] = {}


def takes_answer(fn: Callable[..., object], name: str) -> bool:
    """True for f(completion, answer), False for f(completion); ValueError naming `name` otherwise."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: assume the two-argument form
        return True
    for args in (("completion", "answer"), ("completion",)):
        try:
            signature.bind(*args)
        except TypeError:
            continue
        return len(args) == 2
    raise ValueError(f"reward {name!r} has signature {signature}; a reward takes one completion string, optionally "
                     "the reference answer: f(completion: str) -> float or f(completion: str, answer: str) -> float")


def register_reward(
    name: str,
    fn: Callable[..., float],
    *,
    batch: Callable[..., list[float]] | None = None,
    options: Sequence[str] = (),
    rate_metric: str | None = None,
    full_score: float = FULL_SCORE,
    replace: bool = False,
) -> Reward:
    """Register `fn` under `name` (the name recipes use in `rewards:`); returns the entry."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"reward name {name!r}: use a Python identifier (letters, digits, _)")
    if not callable(fn):
        raise ValueError(f"reward {name!r}: {type(fn).__name__} is not callable")
    if name in _REGISTRY and not replace:
        raise ValueError(f"reward {name!r} is already registered; pass replace=True to redefine it")
    entry = Reward(name, fn, takes_answer(fn, name), batch, tuple(options), rate_metric, full_score)
    _REGISTRY[name] = entry
    return entry


def get_reward(name: str) -> Reward:
    """The registered reward `name`; ValueError listing the registered names otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown reward {name!r}; registered: {', '.join(_REGISTRY)} (or 'module:function')")
    return _REGISTRY[name]


def reward_names() -> tuple[str, ...]:
    """The registered reward names, built-ins first."""
    return tuple(_REGISTRY)


def _format_scores(texts: list[str]) -> list[float]:
    return [format_reward(text) for text in texts]


register_reward("format", format_reward, batch=_format_scores, rate_metric="format_rate")
register_reward("correctness", correctness_reward, batch=correctness_scores, options=("tolerance",),
                rate_metric="accuracy")  # fmt: skip
