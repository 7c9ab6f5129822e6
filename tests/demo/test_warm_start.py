"""gtpo.demo.warm_start: the cached supervised warm start on arith reference solutions."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from gtpo.demo.warm_start import INFO_FILE, WarmStartConfig, sft_dataset, warm_start
from gtpo.tasks import load_task
from gtpo.tasks.arith import ArithConfig
from gtpo.tasks.explain import ExplainConfig
from gtpo.trl.sft import cpu_sft_trainer


def test_sft_dataset_is_prompt_completion_chat():
    ds = sft_dataset(4, seed=0)
    assert ds.column_names == ["prompt", "completion"]
    row = ds[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"].startswith("<reasoning>\n")


def test_loss_is_on_the_completion_only(tiny_model_dir, tmp_path):
    trainer = cpu_sft_trainer(tiny_model_dir, tmp_path / "t", sft_dataset(4, seed=0), steps=1, batch_size=2, lr=3e-3,
                              seed=0)  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    source = sft_dataset(4, seed=0)
    for index in range(4):
        row = trainer.train_dataset[index]
        trained = [label != -100 for label in row["labels"]]  # TRL sets ignored positions to -100
        ids = [i for i, keep in zip(row["input_ids"], trained, strict=True) if keep]
        # The trained part is exactly the assistant turn as the chat template renders it.
        expected = source[index]["completion"][0]["content"] + "<|im_end|>\n"
        assert tokenizer.decode(ids) == expected
        prompt_ids = row["input_ids"][: trained.index(True)]
        assert tokenizer.decode(prompt_ids).endswith("<|im_start|>assistant\n")


def test_sft_dataset_of_another_task():
    ds = sft_dataset(3, seed=0, task_config=ExplainConfig(max_steps=2), task="explain")
    rows = load_task("explain", "train", limit=3, seed=0, options={"max_steps": 2})
    assert [r[0]["content"] for r in ds["completion"]] == rows["solution"]
    with pytest.raises(ValueError, match="generated task with solutions"):
        warm_start(".", "out", task="gsm8k")


def test_bad_settings():
    with pytest.raises(ValueError, match="steps"):
        WarmStartConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        WarmStartConfig(lr=0.0)


def test_missing_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        warm_start(tmp_path / "nope", tmp_path / "out")


@pytest.mark.slow
def test_warm_start_trains_saves_and_is_cached(tiny_model_dir, tmp_path):
    config = WarmStartConfig(steps=30, batch_size=8, lr=3e-3, n_train=200)
    task = ArithConfig(max_operand=5)
    out = warm_start(tiny_model_dir, tmp_path / "sft", config, task_config=task)
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == "<|im_end|>"
    info = json.loads((out / INFO_FILE).read_text())
    assert info["sft"]["steps"] == 30 and info["task"]["max_operand"] == 5
    # Training moved the weights away from the random start.
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert any(
        (a - b).abs().max() > 1e-3 for a, b in zip(model.parameters(), start.parameters(), strict=True)
    )
    # Cached: same settings return at once; the folder is not rewritten.
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert warm_start(tiny_model_dir, out, config, task_config=task) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
