"""extract_answer, format_reward (the documented reading of the paper's scheme) and last_boxed."""

from __future__ import annotations

import json

import pytest

from gtpo.rewards import extract_answer, format_reward, last_boxed
from gtpo.tasks import boxed_reference, float_reference, gsm8k_reference, integer_reference

CANONICAL = "<reasoning>\n...steps...\n</reasoning>\n<answer>\n42\n</answer>"


def test_canonical_format_scores_ten_and_extracts():
    assert format_reward(CANONICAL) == 10.0
    assert extract_answer(CANONICAL) == "42"


@pytest.mark.parametrize(
    "text, expected",
    [
        (CANONICAL, 10.0),
        (CANONICAL + "  \n", 10.0),  # trailing whitespace
        (CANONICAL + "<|im_end|>", 10.0),  # eos markers after the answer
        (CANONICAL + "\n<|endoftext|></s>", 10.0),
        ("<reasoning>a</reasoning><answer>1</answer>", 10.0),  # no newlines needed
        ("<reasoning>a</reasoning><answer>1</answer> so 1.", 2.0),  # both blocks, text after answer
        ("<reasoning>a</reasoning>", 1.0),  # one block, no answer tags
        ("<answer>1</answer>", 1.0),  # one block (it ends the completion) but no reasoning
        ("<reasoning>a</reasoning><answer>1", 1.5),  # reasoning + stray <answer>
        ("<reasoning>a</reasoning> 1 </answer>", 1.5),  # reasoning + stray </answer>
        ("<reasoning>a <answer>1</answer>", 1.5),  # answer + stray <reasoning>
        ("</reasoning> <answer>1</answer>", 1.5),  # answer + stray </reasoning>
        ("<reasoning>a<answer>1", 0.0),  # no complete block, stray tags only
        ("</answer><answer>", 0.0),  # closing before opening is not a block
        ("just 42", 0.0),
        ("", 0.0),
        # interleaved or nested blocks are two blocks, not the format (a policy exploited this)
        ("<reasoning><answer>\n</reasoning>\n</answer>", 2.0),
        ("<answer>1</answer><reasoning>a</reasoning><answer>2</answer>", 2.0),  # a second answer block
        ("<reasoning>a</reasoning><answer><reasoning>1</answer>", 2.0),  # stray tag in the answer
        ("<reasoning>a</reasoning>b<answer>1</answer>", 10.0),  # text between the blocks is fine
        ("<reasoning>a</reasoning><reasoning>b</reasoning><answer>1</answer>", 2.0),  # two reasoning blocks
    ],
)
def test_format_reward_scheme(text, expected):
    assert format_reward(text) == expected


def test_format_reward_non_string_is_zero():
    assert format_reward(None) == 0.0  # type: ignore[arg-type]


def test_extract_answer_takes_last_block_stripped():
    text = "<answer>1</answer> wait <answer>  \n 2 \n</answer>"
    assert extract_answer(text) == "2"
    assert extract_answer("<answer>open only") is None
    assert extract_answer("no tags") is None
    assert extract_answer("<answer></answer>") == ""
    # a stray closing tag later: the last </answer> with an opening before it
    assert extract_answer("<answer>7</answer> </answer>") == "7</answer>"


def test_extract_and_format_are_linear_on_a_megabyte():
    big = "<reasoning>" + "x" * 1_000_000 + "</reasoning><answer>" + "{" * 100_000 + "</answer>"
    assert format_reward(big) == 10.0
    assert len(extract_answer(big)) == 100_000
    assert format_reward("<answer>" * 200_000) == 0.0


@pytest.mark.parametrize(
    "solution, expected",
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),  # a [^}]* regex stops at the first }
        (r"\boxed{1} then \boxed{\sqrt{\frac{a}{b}}}", r"\sqrt{\frac{a}{b}}"),  # the last box
        (r"\fbox{12}", "12"),
        (r"\boxed 5$", "5"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),  # escaped braces do not count
        (r"\boxed{\text{(A)}}", r"\text{(A)}"),
        (r"\boxed{unclosed", None),
        ("no box", None),
    ],
)
def test_last_boxed(solution, expected):
    assert last_boxed(solution) == expected


def test_last_boxed_deep_nesting_is_fast():
    text = "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"
    assert last_boxed(text) == "{" * 5000 + "1" + "}" * 5000


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _wrap(answer: str) -> str:
    return f"<reasoning>\nworking\n</reasoning>\n<answer>\n{answer}\n</answer>"


def test_extraction_on_real_rows_of_every_benchmark(shared_data):
    """References from the real files survive a round trip through the completion format."""
    gsm = _rows(shared_data / "gsm8k" / "test.jsonl")
    assert gsm8k_reference(gsm[0]["answer"]) == "18"  # Janet's ducks
    math = _rows(shared_data / "math" / "test.jsonl")
    assert boxed_reference(math[0]["solution"]) == "2"  # test/algebra/1.json
    math500 = _rows(shared_data / "math500" / "test.jsonl")
    assert (
        boxed_reference(math500[0]["solution"]) == math500[0]["answer"] == r"\left( 3, \frac{\pi}{2} \right)"
    )
    # MATH-500's answer field equals the last box of its solution on (nearly) every row
    agree = sum(boxed_reference(r["solution"]) == r["answer"] for r in math500)
    assert agree >= 490, agree
    aime24 = _rows(shared_data / "aime24" / "test.jsonl")
    assert {integer_reference(r["answer"]) for r in aime24} >= {"25", "73"}  # "025", "073" in the file
    aime25 = _rows(shared_data / "aime25" / "test.jsonl")
    assert integer_reference(aime25[0]["answer"]) == "70"
    amc = _rows(shared_data / "amc23" / "test.jsonl")
    assert float_reference(amc[0]["answer"]) == "27"
    refs = (
        [gsm8k_reference(r["answer"]) for r in gsm[:200]]
        + [boxed_reference(r["solution"]) for r in math[:200]]
        + [r["answer"] for r in math500[:100]]
        + [integer_reference(r["answer"]) for r in aime24 + aime25]
        + [float_reference(r["answer"]) for r in amc]
    )
    for ref in refs:
        assert ref
        completion = _wrap(ref)
        assert format_reward(completion) == 10.0
        assert extract_answer(completion) == ref.strip()
