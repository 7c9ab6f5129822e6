"""bench_frame_start.py: where the conflict tokens of positive completions sit, and how soon samples part ways."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from .conftest import load


@pytest.fixture(scope="module")
def fst():
    return load("bench_frame_start")


def record(reasoning: str, answer: str, correct: bool, fmt: float = 10.0, truncated: bool = False) -> dict:
    text = f"<reasoning>\n{reasoning}\n</reasoning>\n<answer>\n{answer}\n</answer>"
    return {"completion": text, "format": fmt, "correct": correct, "truncated": truncated}


def test_place(fst):
    text = "<reasoning>\nabc def\n</reasoning>\n<answer>\n15\n</answer>"
    at = text.index
    assert fst.place(text, at("abc"), at("abc") + 3) == "reasoning"
    assert fst.place(text, at("def") - 1, at("def") + 3) == "reasoning"  # " def"
    assert fst.place(text, at("15"), at("15") + 1) == "answer"
    assert fst.place(text, 0, len("<reasoning>")) == "frame"
    assert fst.place(text, at("</answer>"), at("</answer>") + 9) == "frame"
    assert fst.place(text, at("\n</reasoning>"), at("\n</reasoning>") + 1) == "frame"  # whitespace
    assert fst.place(text, len(text), len(text)) == "frame"  # EOS
    assert fst.place("no tags 12", 8, 10) == "frame"  # outside both blocks


def test_conflicts_split_frame_answer_and_reasoning(fst, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # Parted at the first word: only the frame is shared (forward: <reasoning> and its newline; backward:
    # EOS, </answer> and the newlines around the different answers).
    apart = [record("At first 3 apples.", "15", True), record("We start with 4.", "26", False)]
    out = fst.conflicts([apart], tokenizer)
    where = out["conflict_tokens_pos"]
    assert where["reasoning"]["count"] == where["answer"]["count"] == 0
    assert where["frame"]["count"] >= 4  # <reasoning>, a newline, </answer>, EOS at least
    assert out["conflict_share_pos"] == where["frame"]["count"] / out["positive_tokens"]
    assert out["pair_common_prefix_tokens"]["median"] == 0
    # Shared first words and a shared last digit: conflicts in the reasoning body and in the answer.
    close = [record("At first 3 apples.", "15", True), record("At first 4 apples.", "25", False)]
    out = fst.conflicts([close], tokenizer)
    where = out["conflict_tokens_pos"]
    assert where["reasoning"]["count"] >= 2 and where["answer"]["count"] == 1  # "At first"; the "5" of 15 / 25
    assert out["pair_common_prefix_tokens"]["median"] >= 2
    assert out["conflict_share_neg"] == out["conflict_share_pos"] * out["positive_tokens"] / out["negative_tokens"]
    # A group with equal rewards has no positive or negative completion.
    out = fst.conflicts([[record("a", "1", True), record("b", "2", True)]], tokenizer)
    assert out["conflict_share_pos"] is None and out["positive_tokens"] == 0


def test_truncated_completions_get_no_eos(fst, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids, spans = fst.encode(tokenizer, "<reasoning>\nab", truncated=True)
    assert ids[-1] != tokenizer.eos_token_id and len(ids) == len(spans)
    ids, spans = fst.encode(tokenizer, "<reasoning>\nab", truncated=False)
    assert ids[-1] == tokenizer.eos_token_id and spans[-1] == (14, 14)


def test_samples_must_fill_groups(fst):
    with pytest.raises(SystemExit, match="multiple of --group-size"):
        fst.parse_args(["--samples", "12", "--group-size", "8"])
