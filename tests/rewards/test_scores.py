"""The one correctness rule (`grade`): full format score and a matching answer; batch and item agree."""

from __future__ import annotations

import pytest

from gtpo.rewards import FULL_SCORE, correctness_reward, correctness_scores, format_reward, grade

GOOD = "<reasoning>\n16 - 3 - 4 = 9\n9 * 2 = 18\n</reasoning>\n<answer>\n18\n</answer>"
SYMBOLIC = "<reasoning>\nsimplify\n</reasoning>\n<answer>\n3\\sqrt{2}\n</answer>"
UNFORMATTED = "The answer is 18."
WRONG = GOOD.replace("\n18\n", "\n19\n")
TRAILING = GOOD + " and more text"  # the answer block does not end the completion: format 2, not correct


def test_grade_applies_format_then_answer():
    graded = grade([GOOD, WRONG, UNFORMATTED, SYMBOLIC, TRAILING], ["18", "18", "18", "\\sqrt{18}", "18"])
    assert [g.correct for g in graded] == [True, False, False, True, False]
    assert [g.format for g in graded] == [FULL_SCORE, FULL_SCORE, 0.0, FULL_SCORE, 2.0]
    assert [g.answer for g in graded] == ["18", "19", None, "3\\sqrt{2}", "18"]


def test_batch_scores_equal_the_item_function():
    texts = [GOOD, WRONG, UNFORMATTED, SYMBOLIC, TRAILING]
    refs = ["18", "18", "18", "\\sqrt{18}", 18]  # a number reference is compared as text
    scores = correctness_scores(texts, refs)
    assert scores == [10.0, 0.0, 0.0, 10.0, 0.0]
    assert scores == [correctness_reward(t, str(r)) for t, r in zip(texts, refs, strict=True)]
    assert FULL_SCORE == format_reward(GOOD) == 10.0


def test_tolerance_is_the_numeric_rule():
    text = GOOD.replace("\n18\n", "\n0.14\n")
    assert correctness_scores([text], ["0.15"]) == [0.0]
    assert correctness_scores([text], ["0.15"], tolerance="paper") == [10.0]


def test_hostile_completion_in_a_batch():
    hostile = "<reasoning>x</reasoning><answer>" + "{" * 5000 + "</answer>"
    huge = "<reasoning>" + "y" * 1_000_000 + "</reasoning><answer>10^{10^{10^{10}}}</answer>"
    assert correctness_scores([hostile, huge, GOOD], ["5", "5", "18"]) == [0.0, 0.0, 10.0]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="reference answers"):
        grade([GOOD, GOOD], ["18"])
