"""gtpo.tasks.base: the Task dataclass's checks, the row helpers and parse_options."""

from __future__ import annotations

import dataclasses

import pytest

from gtpo.tasks import RowError, Task, build_prompt, integer_reference, parse_options
from gtpo.tasks.base import match_subject, row_answer, row_field, row_prompt


def _convert(row, split, index):
    return {"prompt": row_prompt(row, "q"), "answer": str(row["a"]), "id": str(index)}


def _generate(split, n, seed, options):
    raise AssertionError("not called")


def test_task_defaults_and_normalisation():
    task = Task("tiny", ["train", "test"], "q (str), a (int)", _convert, hub_splits={"test": "validation"})
    assert task.splits == ("train", "test") and task.hub_configs == (None,) and task.subjects == ()
    assert task.hub_split("test") == "validation" and task.hub_split("train") == "train"
    assert not task.generated and not task.has_solutions
    with pytest.raises(TypeError):
        task.hub_splits["train"] = "x"  # read-only, like the frozen dataclass
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.name = "other"
    assert Task("gen", ("train",), generate=_generate).generated


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="two words"), "Task name must be"),
        (dict(name=""), "Task name must be"),
        (dict(splits="test"), "not the string 'test'"),
        (dict(splits=()), "non-empty tuple"),
        (dict(convert=None), "exactly one of convert"),
        (dict(generate=_generate), "exactly one of convert"),
        (dict(convert="not a function"), "convert must be callable"),
        (dict(fields=""), "fields must describe"),
        (dict(hub_id="no-owner"), "hub_id must look like 'owner/name'"),
        (dict(hub_configs=()), "hub_configs must not be empty"),
        (dict(hub_splits={"validation": "dev"}), r"hub_splits names splits it does not have: \['validation'\]"),
        (dict(subjects=("A", "A")), "subjects repeat"),
        (dict(subjects=("A", "B"), hub_subject_configs=True), "one hub config per subject"),
    ],
)
def test_bad_task_definitions_are_refused(kwargs, message):
    base = dict(name="tiny", splits=("test",), fields="q (str), a (int)", convert=_convert)
    with pytest.raises(ValueError, match=message):
        Task(**{**base, **kwargs})


def test_generated_task_takes_no_hub_or_subjects():
    with pytest.raises(ValueError, match="generated task takes no hub_id or subjects"):
        Task("gen", ("train",), generate=_generate, hub_id="a/b")


def test_row_helpers():
    row = {"question": "  ", "problem": "p", "answer": "025", "n": 5}
    assert row_field(row, "question", "problem") == "p"  # an empty alias is passed over
    assert row_prompt(row, "problem") == build_prompt("p")
    assert row_answer("answer", integer_reference, row["answer"]) == "25"
    with pytest.raises(RowError, match="field 'missing' is missing") as err:
        row_field(row, "missing", "other")
    assert err.value.field == "missing" and not err.value.skippable
    with pytest.raises(RowError, match="field 'question' is empty"):
        row_field(row, "question", "missing")
    with pytest.raises(RowError, match=r"field 'n' is not text \(int\)"):
        row_prompt(row, "n")
    with pytest.raises(RowError, match="field 'answer' is not an integer") as err:
        row_answer("answer", integer_reference, "x", skippable=True)
    assert err.value.skippable


def test_match_subject():
    subjects = ("Counting & Probability", "Geometry")
    assert match_subject("counting_and_probability", subjects) == "Counting & Probability"
    assert match_subject(" GEOMETRY ", subjects) == "Geometry"
    with pytest.raises(ValueError, match="unknown MATH subject 'x'; valid subjects: Counting & Probability, Geometry"):
        match_subject("x", subjects, "MATH")


def test_parse_options():
    assert parse_options(None) is None
    assert parse_options({"max_steps": 1}) == {"max_steps": 1}
    assert parse_options('{"max_steps": 1}') == {"max_steps": 1}
    with pytest.raises(ValueError, match="--task_options='max_steps=1': not a JSON mapping"):
        parse_options("max_steps=1", "--task_options")
    with pytest.raises(ValueError, match=r"task_options=\[1\]: must be a mapping"):
        parse_options("[1]")
