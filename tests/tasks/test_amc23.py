"""gtpo.tasks.amc23: AMC 2023 rows with numeric answers."""

from __future__ import annotations

import pytest

from gtpo.tasks import RowError, get_task, load_task
from gtpo.tasks.amc23 import convert


def test_convert():
    example = convert({"question": "q", "answer": 27.0, "id": 4}, "test", 0)
    assert example["answer"] == "27" and example["id"] == "4"
    assert convert({"problem": "q", "answer": "0.5"}, "test", 2)["answer"] == "0.5"
    with pytest.raises(RowError, match="field 'answer' is not a finite number"):
        convert({"problem": "q", "answer": "nan"}, "test", 0)
    assert get_task("amc23").hub_id == "math-ai/amc23" and get_task("amc23").splits == ("test",)


def test_amc_answers_are_normalised(shared_data):
    amc = load_task("amc23", "test", source=shared_data / "amc23")
    assert (
        "27" in amc["answer"] and "-1" in amc["answer"] and not any(a.endswith(".0") for a in amc["answer"])
    )
