"""Run guards that any engine needs, written once (the TRL trainers apply them in `gtpo.trl.guarded`).

- Reward functions: `RewardGuard` wraps a synchronous batch reward function (the engine's calling
  convention: `f(completions=..., **columns) -> list`, an array or a tensor); `AsyncRewardGuard` an
  async one. Each call has a deadline (`reward_timeout` seconds; `call_with_deadline`: in place in the
  main thread, interrupted at the deadline, so code that uses `signal` works). A call that raises is
  retried one completion at a time, so only the completions that fail score 0; a call past its
  deadline scores its whole batch 0 (retrying a hanging function would hang again). The first retry is
  announced once (a RuntimeWarning with the batch call's own error, e.g. both lengths of a wrong-length
  return), and that error is the cause reported when the retried items fail too. None or NaN is
  TRL's "does not apply" and passes through; any other value that is not a finite number scores 0.
  Every completion that scores 0 this way is counted in `errors` (logged as `reward_errors`), with one
  warning per function and error type. When a function fails (raises or returns no finite number) on
  every completion of its first batch, it is broken, not unlucky: `broken` is set, and the trainer
  stops the run with `RewardFunctionError` on every process once the rewards are gathered (deadlines
  excluded: a slow first batch can be a hostile input). A function that failed on every completion
  (deadlines included) of `max_failed` batches in a row sets `broken` too: the run cannot learn from it.
  The answer checking inside the built-in correctness reward has its own deadline, per item and in
  worker processes (`gtpo.rewards.pool`): math-verify can spin in C code that no thread can interrupt,
  so only killing a process bounds it. The two deadlines guard different things and both stay.
- The errors every guard raises derive from `RunGuardError`; the non-finite-update and weight
  checks live with the trainer (`gtpo.trl.guarded`), whose hooks they need.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

REWARD_TIMEOUT = 120.0  # seconds, default of GuardArguments.reward_timeout
MAX_NONFINITE_STEPS = 3  # default of GuardArguments.max_nonfinite_steps
MAX_FAILED_REWARD_STEPS = 3  # default of GuardArguments.max_failed_reward_steps


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
    """fn(), stopped with RewardTimeout after `timeout` seconds (None: no deadline).

    In the main thread fn runs in place (as TRL runs a reward function: code that uses `signal`, such as
    math-verify's own timeouts, works); a timer thread interrupts it at the deadline with SIGINT, whose
    handler (installed for the call, even where SIGINT was ignored) raises RewardTimeout; a real Ctrl-C
    goes to the handler that was there before. Elsewhere (no signals there) fn runs in a daemon thread that is abandoned
    at the deadline."""
    if timeout is None:
        return fn()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill"):
        return _in_main_thread(fn, timeout)
    return _in_daemon_thread(fn, timeout)


def _in_main_thread(fn: Callable[[], Any], timeout: float) -> Any:
    lock = threading.Lock()
    state = {"running": True, "fired": False}
    main = threading.main_thread().ident
    message = f"no result within reward_timeout={timeout}s"

    def on_sigint(signum: int, frame: Any) -> None:  # ours while fn runs, whatever SIGINT was set to before
        if state["fired"]:
            raise RewardTimeout(message)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def interrupt() -> None:
        with lock:
            if state["running"]:
                state["fired"] = True
                signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    timer = threading.Timer(timeout, interrupt)
    timer.daemon = True
    timer.start()
    try:
        return fn()
    finally:
        with lock:
            state["running"] = False
        timer.cancel()
        if state["fired"]:  # a SIGINT sent just as fn returned may still be pending: take it here
            with contextlib.suppress(RewardTimeout):
                for _ in range(50):
                    time.sleep(0.001)
        signal.signal(signal.SIGINT, previous)


def _in_daemon_thread(fn: Callable[[], Any], timeout: float) -> Any:
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


def as_scores(values: Any, n: int) -> list[Any]:
    """A reward function's return value as a list of n entries: a list, tuple, numpy array or tensor (TRL
    accepts any of them). TypeError naming what came back otherwise."""
    if hasattr(values, "tolist") and not isinstance(values, (str, bytes)):
        values = values.tolist()  # numpy arrays and tensors
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence) or len(values) != n:
        got = (
            f"{type(values).__name__} of length {len(values)}"
            if hasattr(values, "__len__")
            else f"{type(values).__name__} {values!r}"
        )
        raise TypeError(f"returned {got}, expected {n} numbers (one per completion)")
    return list(values)


class _Logs:
    """The `log_extra` / `log_metric` calls of one reward call, held back until the call has succeeded."""

    def __init__(self) -> None:
        self.extra: dict[str, list] = {}
        self.metrics: dict[str, list[float]] = {}

    def log_extra(self, column: str, values: list) -> None:
        self.extra.setdefault(column, []).extend(values)

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)


class RewardGuard:
    """A reward function (the engine's calling convention, `f(completions=..., **columns) -> list`) that
    cannot stop the run: failures score 0 and are counted in `errors` (see the module docstring).

    A call that raises is retried one completion at a time; its `log_extra` / `log_metric` calls are
    held back and passed on once: the batch call's if it succeeded, else one value per completion per
    extra column (None for a failed completion) and the mean of each metric over the retried items.
    None or NaN is "does not apply" (TRL's convention), passed on as None, not an error. A function that
    fails on every completion of its first batch sets `broken` (the trainer stops the run on every
    process at once, after the rewards are gathered), and so does one that failed on every completion of
    `max_failed` batches in a row, timeouts included."""

    def __init__(self, func: Callable[..., Any], timeout: float | None = REWARD_TIMEOUT,
                 max_failed: int = MAX_FAILED_REWARD_STEPS):  # fmt: skip
        if max_failed < 1:
            raise ValueError(f"max_failed={max_failed}: must be >= 1 (default {MAX_FAILED_REWARD_STEPS})")
        self.func = func
        self.timeout = timeout
        self.max_failed = max_failed
        self.failed_in_a_row = 0
        self.__name__ = callable_name(func)  # TRL logs rewards/<name>/mean
        self.errors = 0
        self.calls = 0
        self.broken: RewardFunctionError | None = None
        self._warned: set[str] = set()
        self._last_error: BaseException | None = None
        self._batch_error: BaseException | None = (
            None  # the error of this call's batch call, when it was retried
        )
        self._told_retry = False
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
        out: list[float | None] = []
        for value in as_scores(values, n):
            if value is None:
                out.append(None)
                continue
            try:  # numpy and 0-d torch numbers too, as TRL accepts them; not strings
                number = math.inf if isinstance(value, (str, bytes)) else float(value)
            except (TypeError, ValueError):
                number = math.inf
            if math.isnan(number):
                out.append(None)  # "does not apply", as TRL reads NaN and None
            elif math.isfinite(number):
                out.append(number)
            else:
                out += self._fail(1, ValueError(f"returned {value!r}, not a finite number"))
        return out

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        self.calls += 1
        errors_before, self._timed_out, self._batch_error = self.errors, False, None
        scores = self._score(completions, **kwargs)
        self._check_broken(len(completions), self.errors - errors_before)
        return scores

    def _retrying(self, n: int, err: BaseException) -> None:
        """The batch call failed with `err`: keep it as the call's cause and say once that items are retried."""
        self._batch_error = err
        if not self._told_retry:
            self._told_retry = True
            warnings.warn(
                f"reward function {self.__name__!r}: the call on a batch of {n} completions failed "
                f"({type(err).__name__}: {err}); scoring them one completion at a time ({n + 1} calls for such a "
                "batch; said once)",
                RuntimeWarning,
                stacklevel=4,
            )

    def _check_broken(self, n: int, failed: int) -> None:
        """Set `broken` when the first batch failed on every completion (not by a timeout), or when `max_failed`
        batches in a row failed on every completion (timeouts included)."""
        if not n:
            return
        self.failed_in_a_row = self.failed_in_a_row + 1 if failed == n else 0
        err = self._batch_error or self._last_error  # the batch call's own error when the items were retried
        if self.calls == 1 and failed == n and not self._timed_out:
            self.broken = RewardFunctionError(
                f"reward function {self.__name__!r} failed on all {failed} completions of its first batch "
                f"({type(err).__name__}: {err}). Fix the function: a user reward is `f(completion: str) -> float` "
                "or `f(completion: str, answer: str) -> float`; a TRL-style function takes `completions` and the "
                "dataset columns as keyword arguments and returns one float per completion."
            )
            self.broken.__cause__ = err
        elif self.failed_in_a_row >= self.max_failed:
            self.broken = RewardFunctionError(
                f"reward function {self.__name__!r} failed on every completion of {self.failed_in_a_row} generation "
                f"batches in a row (last: {type(err).__name__}: {err}); the run cannot learn from it. Fix the function "
                "(or raise reward_timeout if it only needs more time), then continue with --resume; "
                f"max_failed_reward_steps={self.max_failed} sets how many such batches stop the run"
            )
            self.broken.__cause__ = err

    @staticmethod
    def _logged(kwargs: dict[str, Any], logs: _Logs) -> dict[str, Any]:
        """`kwargs` with `log_extra` / `log_metric` (where the engine passes them) held back in `logs`."""
        if "log_extra" in kwargs:
            kwargs = {**kwargs, "log_extra": logs.log_extra}
        if "log_metric" in kwargs:
            kwargs = {**kwargs, "log_metric": logs.log_metric}
        return kwargs

    @staticmethod
    def _item(kwargs: dict[str, Any], i: int, n: int) -> dict[str, Any]:
        """The keyword arguments of completion i alone (per-completion columns cut to one element)."""
        return {k: [v[i]] if isinstance(v, list) and len(v) == n else v for k, v in kwargs.items()}

    def _call(self, completions: list[Any], kwargs: dict[str, Any], logs: _Logs) -> Any:
        kwargs = self._logged(kwargs, logs)
        return call_with_deadline(lambda: self.func(completions=completions, **kwargs), self.timeout)

    def _score(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        logs = _Logs()
        try:
            scores = self._clean(self._call(completions, kwargs, logs), n)
            self._pass_on(kwargs, [logs])
            return scores
        except RewardTimeout as err:
            self._timed_out = True
            return self._fail(n, err)
        except Exception as err:  # noqa: BLE001 - retried item by item below
            self._retrying(n, err)
        scores: list[float | None] = []
        item_logs: list[_Logs | None] = []
        for i in range(n):  # one completion at a time: only the failing ones score 0
            logs = _Logs()
            try:
                scores += self._clean(self._call([completions[i]], self._item(kwargs, i, n), logs), 1)
                item_logs.append(logs)
            except RewardTimeout as err:
                self._timed_out = True
                scores += self._fail(1, err)
                item_logs.append(None)
            except Exception as err:  # noqa: BLE001
                scores += self._fail(1, err)
                item_logs.append(None)
        self._pass_on(kwargs, item_logs, per_item=True)
        return scores

    @staticmethod
    def _pass_on(kwargs: dict[str, Any], calls: list[_Logs | None], per_item: bool = False) -> None:
        """Pass the held-back logs of successful calls on once. `per_item`: one call per completion (None:
        failed), each extra column gets one value per completion (None where the call failed or logged none)."""
        if per_item:
            columns = sorted({c for logs in calls if logs for c in logs.extra})
            extra = {
                c: [(logs.extra.get(c) or [None])[0] if logs else None for logs in calls] for c in columns
            }
        else:
            extra = {c: v for logs in calls if logs for c, v in logs.extra.items()}
        values: dict[str, list[float]] = {}
        for logs in calls:
            for name, seen in (logs.metrics if logs else {}).items():
                values.setdefault(name, []).extend(seen)
        for column, column_values in extra.items():
            kwargs["log_extra"](column, column_values)
        for name, seen in values.items():
            kwargs["log_metric"](name, sum(seen) / len(seen))


class AsyncRewardGuard(RewardGuard):
    """`RewardGuard` for an `async` reward function (or an object whose `__call__` is async): awaited with
    `asyncio.wait_for(reward_timeout)`, retried item by item on an exception, the same counting and the
    same held-back `log_extra` / `log_metric` calls."""

    async def __call__(self, completions: list[Any], **kwargs: Any) -> list[float | None]:
        import asyncio

        self.calls += 1
        n = len(completions)
        errors_before, self._timed_out, self._batch_error = self.errors, False, None

        async def call(items: list[Any], item_kwargs: dict[str, Any], logs: _Logs) -> Any:
            try:
                return await asyncio.wait_for(self.func(completions=items, **self._logged(item_kwargs, logs)),
                                              self.timeout)  # fmt: skip
            except asyncio.TimeoutError as err:
                self._timed_out = True
                raise RewardTimeout(f"no result within reward_timeout={self.timeout}s") from err

        logs = _Logs()
        try:
            scores = self._clean(await call(completions, kwargs, logs), n)
            self._pass_on(kwargs, [logs])
        except RewardTimeout as err:
            scores = self._fail(n, err)
        except Exception as err:  # noqa: BLE001 - retried item by item below
            self._retrying(n, err)
            scores, item_logs = [], []
            for i in range(n):
                logs = _Logs()
                try:
                    scores += self._clean(await call([completions[i]], self._item(kwargs, i, n), logs), 1)
                    item_logs.append(logs)
                except Exception as err:  # noqa: BLE001 - timeouts included: that completion scores 0
                    scores += self._fail(1, err)
                    item_logs.append(None)
            self._pass_on(kwargs, item_logs, per_item=True)
        self._check_broken(n, self.errors - errors_before)
        return scores
