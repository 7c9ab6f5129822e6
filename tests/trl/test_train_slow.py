"""Slow: `gtpo train` end to end on the tiny model (GTPO, the GRPO baseline, resume)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from gtpo.run.logger import METRIC_KEYS
from gtpo.trl.train import main

REPO = Path(__file__).resolve().parents[2]
RECIPE = str(REPO / "recipes" / "tiny-cpu.yaml")


def small_run(model_dir, output_dir, *extra: str) -> list[str]:
    return [RECIPE, "--model_name_or_path", str(model_dir), "--output_dir", str(output_dir),
            "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "16",
            "--task_limit", "32", "--save_strategy", "no", "--learning_rate", "1e-2", *extra]  # fmt: skip


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_three_gtpo_steps_train_and_log(tiny_model_dir, tmp_path):
    out = tmp_path / "gtpo"
    assert main(small_run(tiny_model_dir, out, "--max_steps", "3")) == 0
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "3 GTPO steps left every parameter unchanged"
    metrics = rows(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for m in metrics:
        assert tuple(m) == (*METRIC_KEYS, "reward/format", "reward/correctness")  # + each function's mean
        for key in ("loss", "reward", "reward_format", "reward_correctness", "format_rate", "accuracy",
                    "completion_length", "entropy", "completion_entropy", "initial_entropy",
                    "filtered_frac", "lr"):  # fmt: skip
            assert isinstance(m[key], float), key
        for key in ("conflict_frac_pos", "conflict_frac_neg"):  # None for a step without rows of that sign
            assert m[key] is None or 0.0 <= m[key] <= 1.0, key
    assert metrics[0]["initial_entropy"] == metrics[2]["initial_entropy"] > 0
    samples = rows(out / "conflict_samples.jsonl")
    assert [s["step"] for s in samples] == [1, 2, 3]
    for completion in samples[0]["completions"]:
        assert len(completion["tokens"]) == len(completion["weights"]) > 0
        assert set(completion) == {"tokens", "weights", "advantage", "reward"}
    config = yaml.safe_load((out / "run_config.yaml").read_text())
    assert config["algo"] == "gtpo" and config["training"]["max_steps"] == 3
    assert (out / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_grpo_baseline_logs_the_same_keys(tiny_model_dir, tmp_path):
    out = tmp_path / "grpo"
    args = small_run(tiny_model_dir, out, "--max_steps", "2", "--algo", "grpo", "--report_to", "tensorboard")
    assert main(args) == 0
    metrics = rows(out / "metrics.jsonl")
    assert [tuple(m) for m in metrics] == [(*METRIC_KEYS, "reward/format", "reward/correctness")] * 2
    assert metrics[0]["entropy"] is not None and metrics[0]["initial_entropy"] == metrics[0]["entropy"]
    assert metrics[0]["conflict_frac_pos"] is None and metrics[0]["filtered_frac"] is None
    assert metrics[0]["completion_entropy"] is None
    assert not (out / "conflict_samples.jsonl").exists()
    assert yaml.safe_load((out / "run_config.yaml").read_text())["algo"] == "grpo"
    assert list(out.glob("runs/*/events.out.tfevents.*")), "report_to tensorboard wrote no event file"


@pytest.mark.slow
@pytest.mark.parametrize("restore_callbacks", ["false", "true"])
def test_resume_restores_initial_entropy(tiny_model_dir, tmp_path, restore_callbacks):
    out = tmp_path / "resume"
    args = small_run(tiny_model_dir, out, "--save_strategy", "steps", "--save_steps", "1")
    assert main([*args, "--max_steps", "2"]) == 0
    state_file = out / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    saved = state["stateful_callbacks"]["GTPOState"]["attributes"]["initial_entropy"]
    assert saved == pytest.approx(rows(out / "metrics.jsonl")[0]["initial_entropy"])
    # plant a sentinel: the resumed run must use the checkpointed <H>_ini, not measure a new one.
    # 0.5 <= tau = ln 2 while the random tiny model's completions have mean entropy ~6 > tau, so the
    # 'auto' filter, off in the original run, now drops every completion.
    state["stateful_callbacks"]["GTPOState"]["attributes"]["initial_entropy"] = 0.5
    state_file.write_text(json.dumps(state))
    # restore_callback_states_from_checkpoint=true makes transformers replace the callback object
    resumed = ["--max_steps", "3", "--resume_from_checkpoint", "true",
               "--restore_callback_states_from_checkpoint", restore_callbacks]  # fmt: skip
    assert main([*args, *resumed]) == 0
    metrics = rows(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert metrics[1]["filtered_frac"] == 0.0
    assert metrics[2]["initial_entropy"] == 0.5 and metrics[2]["filtered_frac"] == 1.0


@pytest.mark.slow
def test_the_custom_example_recipe_runs_offline(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the recipe's data and reward paths are relative to the repository root
    out = tmp_path / "custom"
    argv = [str(REPO / "recipes" / "custom-example.yaml"), "--model_name_or_path", str(tiny_model_dir),
            "--output_dir", str(out), "--max_steps", "2", "--save_strategy", "no"]  # fmt: skip
    assert main(argv) == 0
    metrics = rows(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:  # reward = 1.0 x score + 0.5 x short_for_easy (the recipe's weights)
        assert m["reward"] == pytest.approx(m["reward/score"] + 0.5 * m["reward/short_for_easy"], rel=1e-5)
        assert m["reward/short_for_easy"] > 0  # the level column reached the TRL-style function
