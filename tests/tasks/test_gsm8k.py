"""gtpo.tasks.gsm8k: GSM8K rows -> prompt, answer, id and the SFT solution."""

from __future__ import annotations

import pytest

from gtpo.tasks import SYSTEM_PROMPT, RowError, get_task, load_task
from gtpo.tasks.gsm8k import convert, gsm8k_solution


def test_convert_a_row():
    row = {"question": "Q?", "answer": "Half of 48 is 48/2 = <<48/2=24>>24.\n#### 1,024"}
    example = convert(row, "train", 4)
    assert list(example) == ["prompt", "answer", "id", "solution"]
    assert example["prompt"] == [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Q?"}]
    assert example["answer"] == "1024" and example["id"] == "train-4"
    assert example["solution"] == (
        "<reasoning>\nHalf of 48 is 48/2 = 24.\n</reasoning>\n<answer>\n1024\n</answer>"
    )
    assert convert({**row, "id": 9}, "test", 0)["id"] == "9"


def test_a_row_without_worked_steps_has_no_solution():
    assert convert({"question": "q", "answer": "#### 3"}, "test", 0)["solution"] is None
    assert gsm8k_solution("#### 3", "3") is None
    with pytest.raises(RowError, match="field 'answer' is missing"):
        convert({"question": "q"}, "test", 0)


def test_registration():
    task = get_task("gsm8k")
    assert task.convert is convert and task.hub_id == "openai/gsm8k" and task.hub_configs == ("main",)
    assert task.splits == ("train", "test") and task.has_solutions


def test_shared_data_solutions(shared_data):
    ds = load_task("gsm8k", "test", source=shared_data / "gsm8k" / "test.jsonl", limit=50)
    for solution, answer in zip(ds["solution"], ds["answer"], strict=True):
        assert "<<" not in solution and solution.endswith(f"<answer>\n{answer}\n</answer>")
