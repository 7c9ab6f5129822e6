"""gtpo.tasks.arith: seedable GSM8K-style problems, disjoint splits, canonical solutions."""

from __future__ import annotations

import random
import re

import pytest

from gtpo.tasks import arith
from gtpo.tasks.arith import ArithConfig, build_dataset, reference_completion
from gtpo.tasks.prompts import SYSTEM_PROMPT

SOLUTION_RE = re.compile(r"<reasoning>\n((?:.+\n)+)</reasoning>\n<answer>\n(\d+)\n</answer>")


def _check_equations(solution: str, answer: str) -> None:
    match = SOLUTION_RE.fullmatch(solution)
    assert match, solution
    value = None
    for line in match.group(1).strip().split("\n"):
        a, op, b, eq, c = line.split()
        assert eq == "="
        if value is not None:
            assert int(a) == value  # each step continues from the previous result
        expected = {"+": int(a) + int(b), "-": int(a) - int(b), "x": int(a) * int(b)}[op]
        assert int(c) == expected >= 0
        value = int(c)
    assert str(value) == match.group(2) == answer


def test_columns_prompt_and_solution_are_consistent():
    ds = build_dataset("train", n=200, seed=3)
    assert ds.column_names == ["prompt", "answer", "id", "solution"]
    assert len(set(ds["id"])) == 200
    for row in ds:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"][0]["content"] == SYSTEM_PROMPT
        assert row["prompt"][1]["content"].endswith("have now?")
        assert reference_completion(row) == row["solution"]
        _check_equations(row["solution"], row["answer"])


def test_seeded_and_reproducible():
    a = build_dataset("test", n=50, seed=1)
    assert a.to_list() == build_dataset("test", n=50, seed=1).to_list()
    assert a["prompt"] != build_dataset("test", n=50, seed=2)["prompt"]


def test_train_and_test_do_not_overlap():
    config = ArithConfig(max_operand=9, min_steps=1, max_steps=2)
    train = build_dataset("train", n=3000, seed=0, config=config)
    test = build_dataset("test", n=300, seed=0, config=config)
    train_questions = {row[1]["content"] for row in train["prompt"]}
    test_questions = {row[1]["content"] for row in test["prompt"]}
    assert not train_questions & test_questions

    # Stronger: no arithmetic chain of a test problem appears in training.
    def chains(ds):
        return {SOLUTION_RE.fullmatch(s).group(1) for s in ds["solution"]}

    assert not chains(train) & chains(test)
    assert len(chains(test)) > 20


@pytest.mark.parametrize(
    "config",
    [
        ArithConfig(max_operand=5, min_steps=1, max_steps=1, ops="+"),
        ArithConfig(max_operand=20, min_steps=3, max_steps=3, ops="+-*"),
    ],
)
def test_difficulty_knobs(config):
    ds = build_dataset("train", n=100, config=config)
    for row in ds:
        lines = SOLUTION_RE.fullmatch(row["solution"]).group(1).strip().split("\n")
        assert config.min_steps <= len(lines) <= config.max_steps
        for line in lines:
            a, op, b, _, c = line.split()
            assert op.replace("x", "*") in config.ops
            assert config.min_operand <= int(b) <= config.max_operand
            assert 0 <= int(c) <= config.max_value
        _check_equations(row["solution"], row["answer"])


def test_default_sizes_and_bad_input():
    config = ArithConfig(train_size=7, test_size=3)
    assert len(build_dataset("train", config=config)) == 7
    assert len(build_dataset("test", config=config)) == 3
    with pytest.raises(ValueError, match="split"):
        build_dataset("validation", n=1)
    with pytest.raises(ValueError, match="ops"):
        ArithConfig(ops="/")
    with pytest.raises(ValueError, match="min_steps"):
        ArithConfig(min_steps=3, max_steps=2)
    with pytest.raises(KeyError, match="solution"):
        reference_completion({"answer": "1"})


def test_generate_problem_stays_in_range_over_seeds():
    config = ArithConfig(max_operand=9, max_steps=3, ops="+-*", max_value=30)
    for seed in range(20):
        problem = arith.generate_problem(random.Random(seed), config)
        assert 0 <= problem.answer <= 30
        _check_equations(problem.solution, str(problem.answer))


def test_answer_noise_miscopies_only_the_sft_target():
    from gtpo.tasks.arith import ArithConfig, build_dataset

    clean = build_dataset("train", n=2000, seed=3)
    noisy = build_dataset("train", n=2000, seed=3, config=ArithConfig(answer_noise=0.25))
    # the problems, their true answers and ids are those of the clean task: rewards and evaluation unchanged
    assert noisy["prompt"] == clean["prompt"] and noisy["answer"] == clean["answer"] and noisy["id"] == clean["id"]
    changed = [(c, n, a) for c, n, a in zip(clean["solution"], noisy["solution"], clean["answer"], strict=True) if c != n]
    assert 0.22 < len(changed) / 2000 < 0.28  # the requested share, up to sampling noise (sd ~0.01)
    for c, n, a in changed:
        # the equations stay right; only the number inside <answer> is off by one
        assert c.split("</reasoning>")[0] == n.split("</reasoning>")[0]
        written = int(n.split("<answer>\n")[1].split("\n")[0])
        assert abs(written - int(a)) == 1 and written >= 0
    with pytest.raises(ValueError, match="answer_noise"):
        ArithConfig(answer_noise=1.5)


def test_registered_as_a_generated_task():
    from gtpo.tasks import SYSTEM_PROMPT, get_task, load_task

    task = get_task("arith")
    assert task.generated and task.options_type is ArithConfig and task.has_solutions
    ds = load_task("arith", "train", limit=4, seed=1)
    assert len(ds) == 4 and ds.column_names == ["prompt", "answer", "id", "solution"]
    assert ds[0]["prompt"][0]["content"] == SYSTEM_PROMPT
    assert ds.to_list() == build_dataset("train", n=4, seed=1).to_list()
    options = {"max_steps": 3, "ops": "+-*", "answer_noise": 0.5}
    assert load_task("arith", "test", limit=30, seed=2, options=options).to_list() == (
        build_dataset("test", n=30, seed=2, config=ArithConfig(**options)).to_list()
    )
    assert len(load_task("arith", "test", options={"test_size": 3})) == 3
    with pytest.raises(ValueError, match="arith"):
        load_task("arith", "train", source="x.jsonl")
    with pytest.raises(ValueError, match=r"arith options \['bogus'\] are unknown; use fields of ArithConfig"):
        load_task("arith", "train", limit=1, options={"bogus": 1})
    with pytest.raises(ValueError, match="only the split"):
        load_task("arith", "validation", limit=1)


def test_parse_options_is_the_generic_one():
    from gtpo.tasks import parse_options

    assert arith.parse_options is parse_options
