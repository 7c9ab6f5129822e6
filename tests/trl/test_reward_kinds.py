"""Every kind of reward function TRL documents works under GTPOTrainer and `gtpo train` and gets exactly
the rewards plain TRL would give it: sync and async functions, async callable objects, lists, numpy arrays,
tensors, None and NaN ("does not apply"), log_extra / log_metric, code that uses `signal`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gtpo.trl.train import main
from tests.trl.trl_helpers import TEXTS, make_trainer

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "tiny-cpu.yaml")


def lengths(completions) -> list[float]:
    return [float(len(c[-1]["content"] if isinstance(c, list) else c)) for c in completions]


def as_list(completions, **_):
    return lengths(completions)


def as_numpy(completions, **_):
    return np.array(lengths(completions), dtype=np.float32)


def as_tensor(completions, **_):
    return torch.tensor(lengths(completions))


def with_none(completions, **_):
    return [None if i % 2 else v for i, v in enumerate(lengths(completions))]


def with_nan(completions, **_):
    return [math.nan if i % 2 else v for i, v in enumerate(lengths(completions))]


async def async_function(completions, **_):
    return lengths(completions)


class AsyncCallable:
    __name__ = "async_callable"

    async def __call__(self, completions, **_):
        return lengths(completions)


def with_logs(completions, log_extra=None, log_metric=None, **_):
    log_extra("length", lengths(completions))
    log_metric("mean_length", sum(lengths(completions)) / len(completions))
    return lengths(completions)


def with_signal(completions, answer, **_):
    """math-verify's parse/verify with their default (signal-based) timeouts, as a user would write it."""
    from math_verify import parse, verify

    return [float(verify(parse(a), parse(c[-1]["content"] if isinstance(c, list) else c))) for c, a in
            zip(completions, answer, strict=True)]  # fmt: skip


KINDS = {
    "list": (as_list, None), "numpy": (as_numpy, None), "tensor": (as_tensor, None), "None": (with_none, "nan"),
    "NaN": (with_nan, "nan"), "async": (async_function, None), "async callable": (AsyncCallable(), None),
    "log_extra/log_metric": (with_logs, None), "signal": (with_signal, None),
}  # fmt: skip


def expected(kind: str, texts: list[str]) -> list[float]:
    func, missing = KINDS[kind]
    values = lengths(texts)
    if missing:
        values = [math.nan if i % 2 else v for i, v in enumerate(values)]  # TRL turns None into NaN
    return values


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_each_kind_scores_as_trl_would_and_trains(kind, tiny_model_dir, tmp_path, generation_inputs):
    func, _ = KINDS[kind]
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", reward=func)  # default reward_timeout: guarded
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(generation_inputs)
    got = trainer._gathered_rewards[:, 0].tolist()
    texts = [TEXTS[i % len(TEXTS)] for i in range(len(got))]
    if kind == "signal":  # the same verdicts as calling the function in the main thread ourselves
        assert got == with_signal(texts, answer=[row["answer"] for row in generation_inputs])
    else:
        want = expected(kind, texts)
        assert [g if not math.isnan(g) else "nan" for g in got] == [w if not math.isnan(w) else "nan" for w in want]
    assert sum(f.errors for f in trainer.reward_funcs) == 0
    loss = trainer._compute_loss(trainer.model, out)
    assert torch.isfinite(loss)
    if kind == "log_extra/log_metric":
        assert list(trainer._logs["extra"]["length"]) == lengths(texts)
        assert trainer._metrics["train"]["mean_length"] == [pytest.approx(sum(lengths(texts)) / len(texts))]


def flaky(completions, log_extra=None, log_metric=None, **_):
    if any("boom" in (c[-1]["content"] if isinstance(c, list) else c) for c in completions) and len(completions) > 1:
        raise RuntimeError("fails on the batch")
    if any("boom" in (c[-1]["content"] if isinstance(c, list) else c) for c in completions):
        raise RuntimeError("fails on this completion")
    log_extra("length", lengths(completions))
    log_metric("mean_length", sum(lengths(completions)) / len(completions))
    return lengths(completions)


async def async_flaky(completions, log_extra=None, log_metric=None, **kwargs):
    return flaky(completions, log_extra=log_extra, log_metric=log_metric, **kwargs)


def call_guard(func, completions, **kwargs):
    """Score through the guard the trainer would wrap `func` in (an async function's result awaited)."""
    import asyncio
    import inspect

    from gtpo.run.guards import AsyncRewardGuard, RewardGuard

    guard = (AsyncRewardGuard if inspect.iscoroutinefunction(func) else RewardGuard)(func, timeout=None)
    scores = guard(completions, **kwargs)
    return asyncio.run(scores) if inspect.isawaitable(scores) else scores


@pytest.mark.parametrize("func", [flaky, async_flaky], ids=["sync", "async"])
def test_a_failing_completion_logs_one_aligned_value_per_completion(func):
    extra, metrics = {}, []
    with pytest.warns(RuntimeWarning):
        scores = call_guard(func, ["aa", "boom", "cccc", "d"],
                            log_extra=lambda c, v: extra.setdefault(c, []).extend(v),
                            log_metric=lambda n, v: metrics.append((n, v)))  # fmt: skip
    assert scores == [2.0, 0.0, 4.0, 1.0]
    assert extra == {"length": [2.0, None, 4.0, 1.0]}  # 4 values for 4 completions, None where it failed
    assert metrics == [("mean_length", pytest.approx((2 + 4 + 1) / 3))]  # one call: the retried items' mean


@pytest.mark.parametrize("func", [flaky, async_flaky], ids=["sync", "async"])
def test_a_successful_batch_passes_its_logs_on_once(func):
    extra, metrics = {}, []
    scores = call_guard(func, ["aa", "b"], log_extra=lambda c, v: extra.setdefault(c, []).extend(v),
                        log_metric=lambda n, v: metrics.append((n, v)))  # fmt: skip
    assert scores == [2.0, 1.0]
    assert extra == {"length": [2.0, 1.0]} and metrics == [("mean_length", 1.5)]


def test_an_async_reward_failing_on_its_whole_first_batch_says_how_to_fix_it():
    import asyncio

    from gtpo.run.guards import AsyncRewardGuard

    async def always_fails(completions, **_):
        raise KeyError("answer")

    guard = AsyncRewardGuard(always_fails, timeout=None)
    with pytest.warns(RuntimeWarning):
        assert asyncio.run(guard(["a", "b"])) == [0.0, 0.0]
    assert guard.broken is not None and "Fix the function" in str(guard.broken)


def test_an_async_reward_past_its_deadline_scores_zero_without_breaking_the_run():
    import asyncio

    from gtpo.run.guards import AsyncRewardGuard

    async def slow(completions, **_):
        await asyncio.sleep(5)
        return [1.0] * len(completions)

    guard = AsyncRewardGuard(slow, timeout=0.05)
    with pytest.warns(RuntimeWarning, match="RewardTimeout"):
        assert asyncio.run(guard(["a", "b"])) == [0.0, 0.0]
    assert guard.errors == 2 and guard.broken is None  # a timeout is not a broken function


def test_module_function_rewards_of_each_kind_in_gtpo_train(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    rewards = ["tests.trl.test_reward_kinds:as_numpy", "tests.trl.test_reward_kinds:async_function",
               "tests.trl.test_reward_kinds:with_nan", "format"]  # fmt: skip
    argv = [RECIPE, "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--rewards", *rewards,
            "--max_steps", "1", "--per_device_train_batch_size", "4", "--num_generations", "4",
            "--max_completion_length", "8", "--logging_steps", "1", "--save_strategy", "no",
            "--reward_weights", "1", "1", "1", "1"]  # fmt: skip
    assert main(argv) == 0
    (row,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert row["reward_errors"] == 0 and math.isfinite(row["loss"])
