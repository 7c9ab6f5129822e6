"""gtpo.tasks.math and gtpo.tasks.math500: MATH rows, subjects, levels, skipped rows and hub configs."""

from __future__ import annotations

import pytest

from gtpo.tasks import (
    MATH_SUBJECTS,
    RowError,
    TaskSourceError,
    canonical_subject,
    get_task,
    load_task,
    math500,
)
from gtpo.tasks import math as math_task


def test_convert_a_row():
    row = {"problem": "p", "solution": "so $\\boxed{\\frac{1}{2}}$", "type": "Counting & Probability",
           "level": "Level 3"}  # fmt: skip
    example = math_task.convert(row, "test", 12)
    assert list(example) == ["prompt", "answer", "id", "subject", "level", "solution"]
    assert example["answer"] == "\\frac{1}{2}" and example["id"] == "test/counting_and_probability/12"
    assert example["subject"] == "Counting & Probability" and example["level"] == 3
    assert example["solution"].endswith("</reasoning>\n<answer>\n\\frac{1}{2}\n</answer>")
    with pytest.raises(RowError, match="empty") as err:
        math_task.convert({**row, "solution": "\\boxed{}"}, "test", 0)
    assert err.value.skippable  # dropped with a warning, not a failed load
    row500 = {"problem": "p", "answer": " 3 ", "subject": "Geometry", "level": 2, "unique_id": "test/geometry/5.json"}
    example = math500.convert(row500, "test", 0)
    assert list(example) == ["prompt", "answer", "id", "subject", "level"]
    assert example["answer"] == "3" and example["id"] == "test/geometry/5.json" and example["level"] == 2


def test_subject_and_level_helpers():
    assert canonical_subject("intermediate_algebra") == "Intermediate Algebra"
    assert canonical_subject("counting and probability") == "Counting & Probability"
    assert math_task.subject_folder("Counting & Probability") == "counting_and_probability"
    assert math_task.level("Level ?") is None and math_task.level(4) == 4 and math_task.level(None) is None
    with pytest.raises(ValueError, match="unknown MATH subject"):
        canonical_subject("calculus")


def test_registrations():
    math, m500 = get_task("math"), get_task("math500")
    assert math.subjects == m500.subjects == MATH_SUBJECTS
    assert math.hub_subject_configs and math.hub_configs[1] == "counting_and_probability"
    assert math.has_solutions and not m500.has_solutions and m500.splits == ("test",)


def test_math_train_skips_the_two_empty_boxes(shared_data):
    with pytest.warns(UserWarning, match=r"skipped 2 row\(s\).*7115\.json.*7117\.json"):
        ds = load_task("math", "train", source=shared_data / "math")
    assert len(ds) == 7498
    assert set(ds["subject"]) == set(MATH_SUBJECTS)
    assert set(ds["level"]) == {1, 2, 3, 4, 5, None}  # two "Level ?" rows


def test_math_subjects_filter(shared_data):
    ds = load_task("math", "test", source=shared_data, subjects=["counting_and_probability", "GEOMETRY"])
    assert len(ds) == 474 + 479
    assert set(ds["subject"]) == {"Counting & Probability", "Geometry"}
    m500 = load_task("math500", "test", source=shared_data, subjects="Number Theory")
    assert len(m500) == 62
    with pytest.raises(ValueError, match="valid subjects: Algebra, Counting & Probability"):
        load_task("math", "test", source=shared_data, subjects=["calculus"])
    with pytest.raises(ValueError, match="subjects= is empty"):
        load_task("math", "test", source=str(shared_data), subjects=[])
    with pytest.raises(ValueError, match="only applies to 'math'"):
        load_task("gsm8k", "test", source=shared_data, subjects=["algebra"])


def test_hub_rows_are_converted(monkeypatch):
    """Hub rows in the native fields go through the same converter; MATH loads one config per subject."""
    import datasets

    calls = []

    def fake(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        subject = "Geometry" if config == "geometry" else "Trigonometry"
        return datasets.Dataset.from_list(
            [{"problem": "p", "solution": "so \\boxed{3}", "answer": "3", "type": subject, "level": "Level 2"}]
        )

    monkeypatch.setattr(datasets, "load_dataset", fake)
    ds = load_task("math", "test", subjects=["geometry"])
    assert calls == [("EleutherAI/hendrycks_math", "geometry", "test")]
    assert ds[0]["answer"] == "3" and ds[0]["level"] == 2 and ds[0]["id"] == "test/geometry/0"
    with pytest.raises(TaskSourceError, match=r"row 1 of hub dataset EleutherAI/hendrycks_math \(config '\w+'\): field 'type' unknown"):
        load_task("math", "test")  # all seven configs; the fake's "Trigonometry" row is rejected
    calls.clear()
    with pytest.raises(TaskSourceError, match="unknown MATH subject 'Trigonometry'"):
        load_task("math500", "test", subjects=["geometry"])  # one config: the subject is filtered after
    assert calls == [("HuggingFaceH4/MATH-500", None, "test")]
