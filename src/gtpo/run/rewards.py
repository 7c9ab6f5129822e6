"""Resolve a recipe's reward names into registry entries: registered names, or your own 'module:function'.

`load_reward("module:function")` imports the function and returns it as a `gtpo.rewards.Reward` named
after the function, without registering it: a plain reward `f(completion)` / `f(completion, answer)`
(the arity is read from its signature), or, when it has a `completions` parameter, a batch function in
TRL's convention (`f(completions=[...], **dataset_columns) -> list`, sync or async), passed on as it is. Engines wrap the resolved entries in their own calling
convention (`gtpo.trl.rewards`).
"""

from __future__ import annotations

import importlib
import inspect

from gtpo.rewards import Reward, get_reward, reward_names
from gtpo.rewards.registry import takes_answer


def load_reward(spec: str) -> Reward:
    """A registered reward by name, or 'module:function' imported (ValueError naming the fix)."""
    if spec in reward_names():
        return get_reward(spec)
    module_name, colon, name = spec.partition(":")
    if not colon:
        get_reward(spec)  # raises: unknown name, listing the registered ones
    try:
        func = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"rewards: cannot load {spec!r} ({type(err).__name__}: {err}); give 'module:function' "
                         "with the module importable (on PYTHONPATH or installed)") from err
    if not callable(func):
        raise ValueError(f"rewards: {spec!r} is a {type(func).__name__}, not a function (completion[, answer]) -> float")
    if _takes_completions(func):  # TRL's batch convention: f(completions=[...], **columns) -> list
        return Reward(name, func, takes_answer=False, batch_convention=True)
    return Reward(name, func, takes_answer(func, spec))


def _takes_completions(func) -> bool:
    try:  # inspect.signature reads a callable object's __call__ (self excluded)
        return "completions" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def load_rewards(names: list[str], *, answer_tolerance: str = "strict") -> list[Reward]:
    """The rewards of `RewardArguments.rewards`, in order (matching `reward_weights`), with the run's
    options applied (`answer_tolerance` -> the correctness reward's `tolerance`)."""
    return [load_reward(name).with_options(tolerance=answer_tolerance) for name in names]
