"""`gtpo sft`: the recipe convention, the paper-format targets, metrics, checkpoints, resume, LoRA merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from datasets import Dataset

from gtpo.cli import main as gtpo_main
from gtpo.run.recipe import RecipeError
from gtpo.trl.sft import parse_args, sft_pairs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _recipe(tmp_path, model_dir, **overrides) -> Path:
    recipe = {
        "task": "arith", "task_limit": 32, "model_name_or_path": str(model_dir), "output_dir": str(tmp_path / "run"),
        "use_cpu": True, "max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 3e-3,
        "logging_steps": 1, "save_strategy": "steps", "save_steps": 1, "report_to": "none", "disable_tqdm": True,
        **overrides,
    }  # fmt: skip
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_gsm8k_targets_are_in_the_papers_format_without_calculator_notes():
    from gtpo.tasks import load_task

    pairs = sft_pairs(load_task("gsm8k", "train", source=FIXTURES / "gsm8k_five.jsonl"))
    first = pairs[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"]
    assert first["completion"] == [{"role": "assistant", "content": (
        "<reasoning>\nMia starts with 3 apples and buys 4 more, so she has 3+4=7 apples.\n</reasoning>\n"
        "<answer>\n7\n</answer>"
    )}]  # fmt: skip
    assert not any("<<" in row["completion"][0]["content"] for row in pairs)


def test_a_task_without_solutions_is_refused():
    with pytest.raises(RecipeError, match="no reference solutions"):
        sft_pairs(Dataset.from_list([{"prompt": [{"role": "user", "content": "1+1?"}], "answer": "2", "id": "0"}]))


def test_custom_data_without_a_solution_column_is_told_to_add_one(tmp_path):
    from gtpo.tasks import load_task

    data = tmp_path / "d.jsonl"
    data.write_text('{"q": "1+1?", "a": "2"}\n')
    options = {"prompt_field": "q", "answer_field": "a"}
    with pytest.raises(RecipeError, match="--task custom and a text column named solution"):
        sft_pairs(load_task("custom", "train", source=data, options=options))
    data.write_text('{"q": "1+1?", "a": "2", "solution": "1+1 = 2"}\n')  # the column is the completion
    pair = sft_pairs(load_task("custom", "train", source=data, options=options))[0]
    assert pair["completion"] == [{"role": "assistant", "content": "1+1 = 2"}]
    assert pair["prompt"] == [{"role": "user", "content": "1+1?"}]
    data.write_text('{"q": "1+1?", "a": "2", "solution": 2}\n{"q": "1+2?", "a": "3", "solution": 3}\n')
    with pytest.raises(RecipeError, match="solution of row 1 is int 2, not text"):
        sft_pairs(load_task("custom", "train", source=data, options=options))


def test_recipe_and_overrides(tmp_path, tiny_model_dir):
    sections, training, model = parse_args([str(_recipe(tmp_path, tiny_model_dir)), "--max_steps", "7", "--resume"])
    task = sections["task"]
    assert (task.task, task.task_limit, sections["run"].resume) == ("arith", 32, "last")
    assert (training.max_steps, model.model_name_or_path) == (7, str(tiny_model_dir))
    with pytest.raises(RecipeError, match="did you mean 'learning_rate'"):
        parse_args([str(_recipe(tmp_path, tiny_model_dir, learnin_rate=1.0))])


def test_bad_field_exits_2_naming_it(tmp_path, tiny_model_dir, capsys):
    assert gtpo_main(["sft", str(_recipe(tmp_path, tiny_model_dir)), "--task_limit", "0"]) == 2
    assert "task_limit=0" in capsys.readouterr().err


def test_trains_logs_checkpoints_and_resumes(tmp_path, tiny_model_dir):
    recipe = _recipe(tmp_path, tiny_model_dir)
    assert gtpo_main(["sft", str(recipe)]) == 0
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["loss"] > 0 and 0 <= r["token_accuracy"] <= 1 for r in rows)
    assert yaml.safe_load((run / "run_config.yaml").read_text())["algo"] == "sft"
    assert (run / "checkpoint-2" / "trainer_state.json").is_file() and (run / "model.safetensors").is_file()
    assert not list(run.glob(".tmp-checkpoint-*"))
    before = sorted((p.relative_to(run), p.stat().st_mtime_ns) for p in run.rglob("*"))
    assert gtpo_main(["sft", str(recipe)]) == 2  # the run folder holds a run: --resume or --overwrite
    assert gtpo_main(["sft", str(recipe), "--resume"]) == 0  # max_steps 2 reached: nothing trained or written
    assert sorted((p.relative_to(run), p.stat().st_mtime_ns) for p in run.rglob("*")) == before
    # resume: two more steps continue from checkpoint-2 (global step 2 -> 4); the log keeps steps 1-2
    assert gtpo_main(["sft", str(recipe), "--max_steps", "4", "--resume"]) == 0
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]


def test_lora_is_merged_into_a_plain_model_folder(tmp_path, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    recipe = _recipe(tmp_path, tiny_model_dir, use_peft=True, lora_r=4, lora_alpha=8,
                     lora_target_modules=["q_proj", "v_proj"], learning_rate=5e-2, save_strategy="no")  # fmt: skip
    assert gtpo_main(["sft", str(recipe)]) == 0
    run = tmp_path / "run"
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert not (run / "adapter_config.json").exists()  # the run folder is a plain model, no adapter
    merged = AutoModelForCausalLM.from_pretrained(run)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    changed = {n for (n, a), (_, b) in zip(merged.named_parameters(), base.named_parameters(), strict=True)
               if not torch.equal(a, b)}  # fmt: skip
    assert changed and all("q_proj" in n or "v_proj" in n for n in changed)


def test_overwrite_with_data_that_cannot_be_loaded_keeps_the_old_run(tmp_path, tiny_model_dir, capsys):
    from tests.run.test_folder import folder_hash

    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    (run / "metrics.jsonl").write_text('{"step": 2, "loss": 1.0}\n')
    before = folder_hash(run)
    recipe = _recipe(tmp_path, tiny_model_dir)
    assert gtpo_main(["sft", str(recipe), "--overwrite", "--task", "gsm8k", "--task_source", "nosuch.jsonl"]) == 2
    assert "deleted" not in capsys.readouterr().err
    assert folder_hash(run) == before
