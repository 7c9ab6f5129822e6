"""`gtpo train` with a task and a reward registered from outside the package (no edit of gtpo itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gtpo.rewards import register_reward
from gtpo.rewards.registry import _REGISTRY as REWARDS
from gtpo.tasks import Task, register_task, row_answer, row_field, row_prompt, unregister_task
from gtpo.trl.train import main

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "tiny-cpu.yaml")
SEEN: list[str] = []  # completions the user reward was called on


def sums_row(row: dict, split: str, index: int) -> dict:
    """A user task: rows {"terms": [3, 4], "total": 7}."""
    terms = row_field(row, "terms")
    return {
        "prompt": row_prompt({"q": "What is " + " + ".join(map(str, terms)) + "?"}, "q"),
        "answer": row_answer("total", str, row_field(row, "total")),
        "id": f"{split}-{index}",
    }


def brevity(completion: str) -> float:
    """A user reward: 1 for an empty completion, less for longer ones."""
    SEEN.append(completion)
    return 1.0 / (1.0 + len(completion))


@pytest.fixture
def user_plugins():
    register_task(Task(name="sums", splits=("train",), fields="terms (list of int), total (int)", convert=sums_row))
    register_reward("brevity", brevity)
    yield
    unregister_task("sums")
    REWARDS.pop("brevity")


def test_registered_task_and_reward_train_one_step(user_plugins, tiny_model_dir, tmp_path):
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps({"terms": [i, i + 1], "total": 2 * i + 1}) + "\n" for i in range(8)))
    out = tmp_path / "run"
    SEEN.clear()
    argv = [RECIPE, "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--task", "sums",
            "--task_source", str(data), "--rewards", "brevity", "correctness", "--max_steps", "1",
            "--per_device_train_batch_size", "4", "--num_generations", "4", "--max_completion_length", "8",
            "--logging_steps", "1", "--save_strategy", "no"]  # fmt: skip
    assert main(argv) == 0
    assert len(SEEN) == 4  # one prompt x G = 4 completions, each scored by the user reward
    (row,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert row["step"] == 1 and row["loss"] is not None
    expected = sum(1.0 / (1.0 + len(c)) for c in SEEN) / 4  # TRL's reward = weighted sum, mean over completions
    assert row["reward"] == pytest.approx(expected, rel=1e-5)  # correctness is 0 on this untrained model's text
    saved = yaml.safe_load((out / "run_config.yaml").read_text())
    assert saved["task"]["task"] == "sums" and saved["rewards"]["rewards"] == ["brevity", "correctness"]
