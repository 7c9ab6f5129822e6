"""The demo's held-out evaluation records the arith options that built its problems."""

from __future__ import annotations

import json
from dataclasses import asdict

from gtpo.demo.summary import evaluate_heldout
from gtpo.tasks.arith import ArithConfig, build_dataset


def test_evaluation_records_the_task_options_used(tiny_model_dir, tmp_path):
    config = ArithConfig(max_operand=50, max_steps=3, max_value=200)
    summary = evaluate_heldout([str(tiny_model_dir)], tmp_path, task_config=config, problems=3, samples=2,
                               max_new_tokens=4, seed=0, show_progress=False)  # fmt: skip
    recorded = asdict(config)
    assert recorded["max_operand"] == 50 and recorded["max_steps"] == 3 and recorded["max_value"] == 200
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["task_options"] == recorded
    assert summary["config"]["task_options"] == recorded
    assert json.loads((tmp_path / "summary.json").read_text())["config"]["task_options"] == recorded
    # the recorded options rebuild the very problems that were sampled
    rebuilt = build_dataset("test", n=3, seed=0, config=ArithConfig(**run["task_options"]))
    sampled = {json.loads(line)["id"] for line in (tmp_path / "samples.jsonl").read_text().splitlines()}
    assert sampled == set(rebuilt["id"])
    assert summary["results"][0]["problems"] == 3


def test_other_task_options_change_the_record(tiny_model_dir, tmp_path):
    evaluate_heldout([str(tiny_model_dir)], tmp_path / "a", task_config=ArithConfig(), problems=2, samples=1,
                     max_new_tokens=2, seed=0, show_progress=False)  # fmt: skip
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["task_options"] == asdict(ArithConfig()) and run["task_options"]["max_operand"] == 9
