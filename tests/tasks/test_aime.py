"""gtpo.tasks.aime: AIME 2024 / 2025 rows, integer answers and id aliases."""

from __future__ import annotations

import json

import pytest

from gtpo.tasks import RowError, get_task, load_task
from gtpo.tasks.aime import convert


def test_convert_aliases_and_ids():
    assert convert({"problem": "p", "answer": "025"}, "test", 3) == {
        "prompt": convert({"problem": "p", "answer": 1}, "test", 0)["prompt"], "answer": "25", "id": "3"
    }
    assert convert({"Problem": "p", "Answer": 7.0, "ID": "2024-II-4"}, "test", 0)["id"] == "2024-II-4"
    assert convert({"question": "p", "answer": "7", "problem_idx": 2}, "test", 0)["id"] == "2"
    with pytest.raises(RowError, match="field 'answer' is not an integer"):
        convert({"problem": "p", "answer": "7.5"}, "test", 0)
    with pytest.raises(RowError, match="field 'problem' is missing"):
        convert({"answer": "7"}, "test", 0)


def test_registrations():
    aime24, aime25 = get_task("aime24"), get_task("aime25")
    assert aime24.convert is aime25.convert is convert
    assert (aime24.hub_id, aime25.hub_id) == ("HuggingFaceH4/aime_2024", "MathArena/aime_2025")
    assert aime24.hub_split("test") == aime25.hub_split("test") == "train"


def test_aime_answers_are_normalised(shared_data):
    aime24 = load_task("aime24", "test", source=shared_data / "aime24" / "test.jsonl")
    raw = [json.loads(line)["answer"] for line in (shared_data / "aime24" / "test.jsonl").open()]
    assert "025" in raw and "25" in aime24["answer"] and "025" not in aime24["answer"]
    assert len(set(load_task("aime25", "test", source=shared_data)["id"])) == 30
