"""gtpo.tasks.explain: arith problems with long explained solutions drawn from many phrasings."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from gtpo.rewards.extract import extract_answer, format_reward
from gtpo.tasks import explain as ex
from gtpo.tasks import get_task, load_task
from gtpo.tasks.explain import ExplainConfig, Step, build_dataset
from gtpo.tasks.prompts import SYSTEM_PROMPT

FRAME = re.compile(r"<reasoning>\n(.+)\n</reasoning>\n<answer>\n(\d+)\n</answer>", re.S)
EQUATION = re.compile(r"(\d+) ([+\-x]) (\d+) = (\d+)")


def _reasoning(solution: str) -> tuple[str, str]:
    match = FRAME.fullmatch(solution)
    assert match, solution
    return match.group(1), match.group(2)


CHECKS = ("Let me", "To double", "Checking")  # the checking sentence's openings


def _chain(reasoning: str) -> list[tuple[int, str, int, int]]:
    """The step equations in order (lines of the checking sentence, which inverts the last step, left out)."""
    lines = [line for line in reasoning.split("\n") if not line.startswith(CHECKS)]
    return [(int(a), op, int(b), int(c)) for a, op, b, c in EQUATION.findall("\n".join(lines))]


def test_rows_are_in_the_papers_frame_and_their_equations_are_right():
    ds = build_dataset("train", n=300, seed=3)
    assert ds.column_names == ["prompt", "answer", "id", "solution"]
    assert len(set(ds["id"])) == 300
    for row in ds:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"][0]["content"] == SYSTEM_PROMPT
        assert row["prompt"][1]["content"].endswith("have now?")
        assert format_reward(row["solution"]) == 10.0
        reasoning, answer = _reasoning(row["solution"])
        assert answer == row["answer"] == extract_answer(row["solution"])
        steps = _chain(reasoning)
        value = None
        for a, op, b, c in steps:
            if value is not None:
                assert a == value  # each step continues from the previous result
            assert c == {"+": a + b, "-": a - b, "x": a * b}[op] >= 0
            value = c
        assert str(value) == answer
        assert 2 <= len(steps) <= 3  # the defaults: 2-3 operations


def test_the_checking_sentence_inverts_the_last_step():
    step = Step("-", 3, 12, 9, 0)
    text = ex.explain(random.Random(0), ExplainConfig(check=1.0, intro=0.0, restate=0.0), "Mia", "apples",
                      "a friend", 12, (step,))  # fmt: skip
    check = [line for line in text.split("\n") if "9 + 3" in line]
    assert len(check) == 1 and "12" in check[0]  # 9 + 3 = 12: the inverse of 12 - 3 = 9
    step = Step("*", 4, 3, 12, 0)
    text = ex.explain(random.Random(1), ExplainConfig(check=1.0), "Tom", "coins", "a friend", 3, (step,))
    assert "12 / 4" in text


def test_phrasings_part_ways_within_the_first_words():
    ds = build_dataset("train", n=400, seed=0)
    openings = Counter(" ".join(_reasoning(s)[0].split()[:2]) for s in ds["solution"])
    assert len(openings) >= 8  # many different first two words
    assert max(openings.values()) / len(ds) < 0.25  # no opening dominates
    # One problem told twice: the same equations, other words.
    problem = next(ex.iter_problems("train", 0))
    texts = {ex.explain(random.Random(s), ExplainConfig(), "Mia", "apples", "a friend", problem.steps[0].before,
                        problem.steps) for s in range(20)}  # fmt: skip
    assert len(texts) >= 15
    for text in texts:
        assert [e[:3] for e in _chain(text)] == [
            (s.before, {"+": "+", "-": "-", "*": "x"}[s.op], s.n) for s in problem.steps
        ]


def test_wording_knobs():
    plain = build_dataset("train", n=100, seed=1, config=ExplainConfig(intro=0.0, restate=0.0, check=0.0))
    full = build_dataset("train", n=100, seed=1, config=ExplainConfig(intro=1.0, restate=1.0, check=1.0))
    for a, b in zip(plain["solution"], full["solution"], strict=True):
        ra, rb = _reasoning(a)[0], _reasoning(b)[0]
        assert not any(line.startswith(CHECKS) for line in ra.split("\n"))
        assert any(line.startswith(CHECKS) for line in rb.split("\n"))
        assert len(rb) > len(ra)
    assert plain["answer"] == full["answer"]  # wording never changes the problems' arithmetic


@pytest.mark.parametrize("config", [ExplainConfig(max_operand=5, min_steps=1, max_steps=1, ops="+"),
                                    ExplainConfig(max_operand=12, min_steps=3, max_steps=4, ops="+-*", max_value=200)])  # fmt: skip
def test_difficulty_knobs(config):
    for row in build_dataset("train", n=100, config=config):
        steps = _chain(_reasoning(row["solution"])[0])
        question_ops = row["prompt"][1]["content"].count(".") - 1  # one sentence per operation after the start
        assert config.min_steps <= question_ops <= config.max_steps
        for _, op, b, c in steps:
            assert op.replace("x", "*") in config.ops
            assert b <= config.max_operand and c <= config.max_value


def test_seeded_reproducible_and_splits_disjoint():
    a = build_dataset("test", n=50, seed=1)
    assert a.to_list() == build_dataset("test", n=50, seed=1).to_list()
    assert a["prompt"] != build_dataset("test", n=50, seed=2)["prompt"]
    assert a["solution"] != build_dataset("test", n=50, seed=2)["solution"]
    train, test = ex.iter_problems("train", 0), ex.iter_problems("test", 0)
    train_signatures = {next(train).signature for _ in range(3000)}
    test_signatures = {next(test).signature for _ in range(300)}
    assert not train_signatures & test_signatures  # no arithmetic chain of a test problem is trained on
    assert len(test_signatures) > 200


def test_answer_noise_miscopies_only_the_answer_block():
    clean = build_dataset("train", n=400, seed=0)
    noisy = build_dataset("train", n=400, seed=0, config=ExplainConfig(answer_noise=0.3))
    assert clean["answer"] == noisy["answer"] and clean["prompt"] == noisy["prompt"]
    changed = 0
    for c, n, answer in zip(clean["solution"], noisy["solution"], noisy["answer"], strict=True):
        (rc, ac), (rn, an) = _reasoning(c), _reasoning(n)
        assert rc == rn and ac == answer  # the explanation is the same and right
        if an != ac:
            changed += 1
            assert abs(int(an) - int(ac)) == 1
    assert 0.2 < changed / 400 < 0.4


def test_registry_options_and_errors():
    task = get_task("explain")
    assert task.has_solutions and task.options_type is ExplainConfig and task.generated
    rows = load_task("explain", "test", limit=5, seed=2, options={"max_steps": 2})
    assert rows.to_list() == build_dataset("test", n=5, seed=2, config=ExplainConfig(max_steps=2)).to_list()
    with pytest.raises(ValueError, match=r"unknown; use fields of ExplainConfig"):
        load_task("explain", "train", limit=2, options={"steps": 2})
    for bad, field in (({"check": 1.5}, "check"), ({"min_steps": 3, "max_steps": 2}, "min_steps"),
                       ({"ops": "/"}, "ops"), ({"answer_noise": -0.1}, "answer_noise")):  # fmt: skip
        with pytest.raises(ValueError, match=field):
            ExplainConfig(**bad)
    with pytest.raises(ValueError, match="split"):
        next(ex.iter_problems("validation"))


def test_corpus_has_questions_and_solutions():
    lines = list(ex.corpus(20, seed=0))
    assert len(lines) == 40
    assert lines[0].endswith("have now?") and lines[1].startswith("<reasoning>")
