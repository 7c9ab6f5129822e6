"""gtpo.run.guards.RewardGuard: failed batches in a row stop the run, the retry is announced once with the
batch call's own error (a wrong-length return names both lengths)."""

from __future__ import annotations

import asyncio
import math
import time
import warnings

import pytest

from gtpo.run.guards import AsyncRewardGuard, RewardFunctionError, RewardGuard


def test_batches_failing_entirely_in_a_row_stop_the_run():
    def hangs(completions, **_):
        time.sleep(30)
        return [1.0] * len(completions)

    guard = RewardGuard(hangs, timeout=0.1, max_failed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(2):  # timeouts do not stop the run on the first batch, nor before 3 in a row
            assert guard(["a", "b"]) == [0.0, 0.0] and guard.broken is None
        guard(["a", "b"])
    assert isinstance(guard.broken, RewardFunctionError)
    assert "'hangs' failed on every completion of 3 generation batches in a row (last: RewardTimeout" in str(guard.broken)
    assert "max_failed_reward_steps=3" in str(guard.broken)


def test_a_batch_that_scores_resets_the_count():
    state = {"call": 0}

    def flaky(completions, **_):
        state["call"] += 1
        return [math.inf if state["call"] in (2, 3, 5, 6) else 1.0] * len(completions)

    guard = RewardGuard(flaky, timeout=None, max_failed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(6):  # failed batches 2, 3 and 5, 6: never 3 in a row
            guard(["a"])
    assert guard.broken is None and guard.failed_in_a_row == 2 and guard.errors == 4
    with pytest.raises(ValueError, match="max_failed=0"):
        RewardGuard(flaky, max_failed=0)


def test_the_retry_is_announced_once_with_both_lengths_of_a_wrong_length_return():
    calls = []

    def drops_one(completions, **_):
        calls.append(len(completions))
        return [1.0] * (len(completions) - 1)  # 7 values for 8 completions

    guard = RewardGuard(drops_one, timeout=None)
    guard.calls = 1  # past the first batch: the failure is scored, not a stop
    with pytest.warns(RuntimeWarning) as seen:
        assert guard(list("abcdefgh")) == [0.0] * 8
    messages = [str(w.message) for w in seen]
    assert any("the call on a batch of 8 completions failed (TypeError: returned list of length 7, expected 8 numbers"
               in m and "one completion at a time (9 calls" in m for m in messages), messages  # fmt: skip
    assert calls == [8] + [1] * 8
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        guard(list("abcd"))
    assert not any("one completion at a time" in str(w.message) for w in again)  # said once


def test_a_first_batch_lost_to_a_wrong_length_names_the_original_call():
    guard = RewardGuard(lambda completions, **_: [1.0] * (len(completions) - 1), timeout=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        guard(list("abcdefgh"))
    assert "all 8 completions of its first batch (TypeError: returned list of length 7, expected 8" in str(guard.broken)


def test_async_rewards_are_announced_and_counted_the_same_way():
    async def drops_one(completions, **_):
        return [1.0] * (len(completions) - 1)

    guard = AsyncRewardGuard(drops_one, timeout=5.0, max_failed=2)
    guard.calls = 1
    with pytest.warns(RuntimeWarning, match="returned list of length 3, expected 4 numbers"):
        asyncio.run(guard(list("abcd")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        asyncio.run(guard(list("abcd")))
    assert "2 generation batches in a row" in str(guard.broken)
