"""Resolve a recipe's reward names into registry entries: registered names, or your own function as
'module:function' or 'path/to/file.py:function' (`gtpo.run.plugins`: a file is loaded once per process,
no PYTHONPATH needed).

`load_reward("module:function")` (or a file path) loads the function and returns it as a `gtpo.rewards.Reward` named
after the function, without registering it: a plain reward `f(completion)` / `f(completion, answer)`
(the arity is read from its signature), or, when it has a `completions` parameter, a batch function in
TRL's convention (`f(completions=[...], **dataset_columns) -> list`, sync or async), passed on as it is. Engines wrap the resolved entries in their own calling
convention (`gtpo.trl.rewards`).
"""

from __future__ import annotations

import inspect

from gtpo.rewards import Reward, get_reward, reward_names
from gtpo.rewards.registry import takes_answer
from gtpo.run.plugins import load_object


def load_reward(spec: str) -> Reward:
    """A registered reward by name, or 'module:function' / 'file.py:function' loaded (ValueError naming the fix)."""
    if spec in reward_names():
        return get_reward(spec)
    if ":" not in spec:
        get_reward(spec)  # raises: unknown name, listing the registered ones
    name = spec.rpartition(":")[2]
    func = load_object(spec, "rewards")
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
    options applied (`answer_tolerance` -> the correctness reward's `tolerance`). Two rewards with the same
    name (TRL logs each as rewards/<name>/mean) are refused."""
    rewards = [load_reward(name).with_options(tolerance=answer_tolerance) for name in names]
    seen: dict[str, str] = {}
    for spec, reward in zip(names, rewards, strict=True):
        logged = getattr(reward.fn, "__name__", reward.name) if reward.batch_convention else reward.name
        if logged in seen:
            raise ValueError(f"rewards: {seen[logged]!r} and {spec!r} are both logged as {logged!r}; give each "
                             "reward function its own name")  # fmt: skip
        seen[logged] = spec
    return rewards
