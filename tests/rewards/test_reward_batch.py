"""TRL-shaped batch rewards: strings and chat messages, one bad item never fails the batch."""

from __future__ import annotations

import pytest

from gtpo.rewards import (
    REWARD_ERRORS,
    completion_text,
    correctness_reward,
    correctness_reward_func,
    format_reward,
    format_reward_func,
    reward_stats,
)

GOOD = "<reasoning>\n16 - 3 - 4 = 9\n9 * 2 = 18\n</reasoning>\n<answer>\n18\n</answer>"
SYMBOLIC = "<reasoning>\nsimplify\n</reasoning>\n<answer>\n3\\sqrt{2}\n</answer>"
UNFORMATTED = "The answer is 18."
WRONG = GOOD.replace("\n18\n", "\n19\n")


def _chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_completion_text_shapes():
    assert completion_text("abc") == "abc"
    assert completion_text(_chat("abc")) == "abc"
    assert completion_text({"role": "assistant", "content": "abc"}) == "abc"
    parts = [
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "bc"}]}
    ]
    assert completion_text(parts) == "abc"
    with pytest.raises(TypeError, match="completion"):
        completion_text(42)


def test_format_reward_func_matches_plain_function():
    completions = [GOOD, UNFORMATTED, "<reasoning>x</reasoning>", _chat(GOOD)]
    assert format_reward_func(completions, prompts=["p"] * 4) == [format_reward(GOOD), 0.0, 1.0, 10.0]


def test_correctness_reward_func_strings_and_chat():
    completions = [GOOD, WRONG, UNFORMATTED, _chat(GOOD), SYMBOLIC]
    answers = ["18", "18", "18", "18", "\\sqrt{18}"]
    scores = correctness_reward_func(completions, answers, prompts=["p"] * 5, completion_ids=[[1]] * 5)
    assert scores == [10.0, 0.0, 0.0, 10.0, 10.0]
    # agrees with the plain str -> float function item by item
    assert scores[:3] == [correctness_reward(c, a) for c, a in zip(completions[:3], answers[:3], strict=True)]


def test_bad_items_score_zero_and_are_counted():
    before = dict(REWARD_ERRORS)
    completions = [GOOD, 12345, None, GOOD]
    assert format_reward_func(completions) == [10.0, 0.0, 0.0, 10.0]
    assert correctness_reward_func(completions, ["18", "18", "18", 18]) == [10.0, 0.0, 0.0, 10.0]
    assert REWARD_ERRORS["format"] == before["format"] + 2
    assert REWARD_ERRORS["correctness"] == before["correctness"] + 2
    stats = reward_stats()
    assert stats["format_errors"] == REWARD_ERRORS["format"]
    assert {"timeouts", "errors", "too_long"} <= set(stats)


def test_hostile_completion_in_a_batch():
    hostile = "<reasoning>x</reasoning><answer>" + "{" * 5000 + "</answer>"
    huge = "<reasoning>" + "y" * 1_000_000 + "</reasoning><answer>10^{10^{10^{10}}}</answer>"
    scores = correctness_reward_func([hostile, huge, GOOD], ["5", "5", "18"])
    assert scores == [0.0, 0.0, 10.0]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="answers"):
        correctness_reward_func([GOOD, GOOD], ["18"])
