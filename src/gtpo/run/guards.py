"""Run guards that any engine needs, written once (the TRL trainers apply them in `gtpo.trl.guarded`).

- Reward functions: `RewardGuard` wraps a batch reward function (the engine's calling convention:
  `f(completions=..., **columns) -> list`). Each call runs with a deadline (`reward_timeout` seconds,
  in a daemon thread: a user's function can be anything, and a thread lets it run in the trainer's
  process with its own state; Python cannot stop the thread, which is left running as a daemon). A
  call that raises is retried one completion at a time, so only the completions that fail score 0; a
  call past its deadline scores its whole batch 0 (retrying a hanging function would hang again). A
  value that is not a finite number (or None, TRL's "does not apply") scores 0. Every such completion
  is counted in `errors` (logged as `reward_errors`), with one warning per function and error type.
  When a function fails (raises or returns no finite number) on every completion of its first batch,
  it is broken, not unlucky, and the run stops with `RewardFunctionError` naming the function and the
  error (deadlines excluded: a slow first batch can be a hostile input).
  The answer checking inside the built-in correctness reward has its own deadline, per item and in
  worker processes (`gtpo.rewards.pool`): math-verify can spin in C code that no thread can interrupt,
  so only killing a process bounds it. The two deadlines guard different things and both stay.
- The errors every guard raises derive from `RunGuardError`; the non-finite-update and weight
  checks live with the trainer (`gtpo.trl.guarded`), whose hooks they need.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable
from typing import Any

REWARD_TIMEOUT = 120.0  # seconds, default of GuardArguments.reward_timeout
MAX_NONFINITE_STEPS = 3  # default of GuardArguments.max_nonfinite_steps


def callable_name(func: Any) -> str:
    """The name a reward is logged under: its __name__, else its class name (callable objects, partials)."""
    name = getattr(func, "__name__", None)
    if isinstance(name, str):
        return name
    inner = getattr(func, "func", None)  # functools.partial
    if inner is not None:
        return callable_name(inner)
    return type(func).__name__


class RunGuardError(RuntimeError):
    """A run guard stopped the run; the message says why and what to do."""


class RewardFunctionError(RunGuardError):
    """A reward function failed on every completion of its first batch: a bug in the function or its signature."""


class RewardTimeout(TimeoutError):
    pass


def call_with_deadline(fn: Callable[[], Any], timeout: float | None) -> Any:
    """fn() in a daemon thread; RewardTimeout if it has not returned after `timeout` seconds (None: no thread)."""
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True, name="gtpo-reward")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise RewardTimeout(f"no result within reward_timeout={timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class RewardGuard:
    """A TRL reward function that cannot stop the run: failures score 0 and are counted in `errors`."""

    def __init__(self, func: Callable[..., list[Any]], timeout: float | None = REWARD_TIMEOUT):
        self.func = func
        self.timeout = timeout
        self.__name__ = callable_name(func)  # TRL logs rewards/<name>/mean
        self.errors = 0
        self.calls = 0
        self._warned: set[str] = set()
        self._last_error: BaseException | None = None
        self._timed_out = False

    def _fail(self, count: int, err: BaseException) -> list[float]:
        self.errors += count
        self._last_error = err
        kind = type(err).__name__
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(
                f"reward function {self.__name__!r}: {kind}: {err}; the affected completions score 0 and are "
                "counted in reward_errors (warned once per error type)",
                RuntimeWarning,
                stacklevel=3,
            )
        return [0.0] * count

    def _clean(self, values: Any, n: int) -> list[float | None]:
        if not isinstance(values, (list, tuple)) or len(values) != n:
            raise TypeError(f"returned {type(values).__name__} of length {len(values) if hasattr(values, '__len__') else '?'}"
                            f", expected a list of {n} floats (one per completion)")  # fmt: skip
        out: list[float | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            try:  # numpy and 0-d torch numbers too, as TRL accepts them; not strings
                number = math.nan if isinstance(value, (str, bytes)) else float(value)
            except (TypeError, ValueError):
                number = math.nan
            if math.isfinite(number):
                out.append(number)
            else:
                out += self._fail(1, ValueError(f"returned {value!r}, not a finite number"))
        return out

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        self.calls += 1
        errors_before, self._timed_out = self.errors, False
        scores = self._score(completions, **kwargs)
        failed = self.errors - errors_before
        if self.calls == 1 and completions and failed == len(completions) and not self._timed_out:
            err = self._last_error
            raise RewardFunctionError(
                f"reward function {self.__name__!r} failed on all {failed} completions of its first batch "
                f"({type(err).__name__}: {err}). Fix the function: a user reward is `f(completion: str) -> float` "
                "or `f(completion: str, answer: str) -> float`; a TRL-style function takes `completions` and the "
                "dataset columns as keyword arguments and returns one float per completion."
            ) from err
        return scores

    def _score(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        try:
            return self._clean(
                call_with_deadline(lambda: self.func(completions=completions, **kwargs), self.timeout), n
            )
        except RewardTimeout as err:
            self._timed_out = True
            return self._fail(n, err)
        except Exception:  # noqa: BLE001 - retried item by item below
            pass
        scores: list[float | None] = []
        for i in range(n):  # one completion at a time: only the failing ones score 0
            item = {k: [v[i]] if isinstance(v, list) and len(v) == n else v for k, v in kwargs.items()}
            try:
                result = call_with_deadline(lambda i=i, item=item: self.func(completions=[completions[i]], **item),
                                            self.timeout)  # fmt: skip
                scores += self._clean(result, 1)
            except RewardTimeout as err:
                self._timed_out = True
                scores += self._fail(1, err)
            except Exception as err:  # noqa: BLE001
                scores += self._fail(1, err)
        return scores
