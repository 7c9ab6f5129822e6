"""The reward registry: built-ins, registering from outside, signatures, options."""

from __future__ import annotations

import pytest

from gtpo.rewards import get_reward, register_reward, reward_names
from gtpo.rewards.registry import _REGISTRY

GOOD = "<reasoning>\nx\n</reasoning>\n<answer>\n0.14\n</answer>"


@pytest.fixture
def clean_registry():
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


def test_builtins_score_like_their_functions():
    assert reward_names()[:2] == ("format", "correctness")
    fmt, correct = get_reward("format"), get_reward("correctness")
    assert (fmt.takes_answer, correct.takes_answer) == (False, True)
    assert fmt.score([GOOD, "no tags"]) == [10.0, 0.0]
    assert correct.score([GOOD], ["0.15"]) == [0.0]
    assert correct.with_options(tolerance="paper").score([GOOD], ["0.15"]) == [10.0]  # 1e-2 absolute
    assert fmt.with_options(tolerance="paper").option_values == {}  # options it does not take are ignored
    assert (fmt.rate_metric, correct.rate_metric) == ("format_rate", "accuracy")


def test_register_from_outside_and_refuse_duplicates(clean_registry):
    def shortness(completion: str) -> float:
        return 1.0 / (1 + len(completion))

    entry = register_reward("shortness", shortness)
    assert "shortness" in reward_names() and get_reward("shortness") is entry
    assert entry.score(["a", "abc"]) == [0.5, 0.25]  # 1 / (1 + 1), 1 / (1 + 3)
    with pytest.raises(ValueError, match="already registered"):
        register_reward("shortness", shortness)
    register_reward("shortness", lambda completion: 0.0, replace=True)
    assert get_reward("shortness").score(["a"]) == [0.0]


def test_bad_registrations_and_lookups_name_the_fix(clean_registry):
    with pytest.raises(ValueError, match="identifier"):
        register_reward("my reward", lambda c: 0.0)
    with pytest.raises(ValueError, match=r"f\(completion: str\) -> float"):
        register_reward("three", lambda a, b, c: 0.0)
    with pytest.raises(ValueError, match="registered: format, correctness"):
        get_reward("nope")
    needs_answer = register_reward("exact", lambda completion, answer: float(completion == answer))
    with pytest.raises(ValueError, match="no 'answer' column"):
        needs_answer.score(["x"])
