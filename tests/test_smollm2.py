"""Slow: the real pretrained model (SmolLM2-135M-Instruct, BPE tokenizer, chat template, pad = eos) through
`gtpo sft`, `gtpo train` (GTPO with LoRA), kill + resume, and `gtpo eval`. Skipped without its package."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from gtpo.cli import main as gtpo_main

pytestmark = pytest.mark.slow
SHORT = dict(use_cpu=True, report_to="none", disable_tqdm=True, dataloader_num_workers=0, seed=0)
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def by_length(completion: str) -> float:
    """A reward that differs between almost any two completions, so every group has both signs."""
    return len(completion) / 10


def _write(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


def _train_recipe(tmp_path: Path, model: Path, out: Path, **extra) -> Path:
    return _write(tmp_path / f"{out.name}.yaml", {
        "task": "arith", "task_limit": 16, "model_name_or_path": str(model), "dtype": "float32",
        "output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 4,
        "max_completion_length": 12, "learning_rate": 1e-3, "logging_steps": 1, "save_strategy": "no",
        "rewards": ["tests.test_smollm2:by_length"], "use_peft": True, "lora_r": 4, "lora_alpha": 8,
        "lora_target_modules": ["q_proj", "v_proj"], **SHORT, **extra,
    })  # fmt: skip


def test_format_tags_span_several_tokens_and_conflict_weights_mark_them(smollm2_dir):
    from transformers import AutoTokenizer

    from gtpo.core import conflict_weights

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    for tag in ("<reasoning>", "</reasoning>", "<answer>", "</answer>"):
        assert len(tok.encode(tag, add_special_tokens=False)) > 1, tag  # not single tokens, unlike the tiny model
    right = "<reasoning>\n2 + 3 = 5\n</reasoning>\n<answer>\n5\n</answer>"
    wrong = "<reasoning>\n2 + 3 = 6\n</reasoning>\n<answer>\n6\n</answer>"
    rows = [tok.encode(t, add_special_tokens=False) + [tok.eos_token_id] for t in (right, wrong)]
    assert len(rows[0]) == len(rows[1])
    weights = conflict_weights(torch.tensor(rows), torch.ones(2, len(rows[0])), torch.tensor([1.0, -1.0]), 2)
    opening = len(tok.encode("<reasoning>\n2 + 3 = ", add_special_tokens=False))
    closing = len(tok.encode("\n</answer>", add_special_tokens=False)) + 1  # + EOS
    assert opening > 3 and closing > 2
    # the shared opening and closing tokens are conflicts: w = 2 for the right answer, 0 for the wrong one
    assert weights[0, :opening].tolist() == [2.0] * opening and weights[1, :opening].tolist() == [0.0] * opening
    assert weights[0, -closing:].tolist() == [2.0] * closing and weights[1, -closing:].tolist() == [0.0] * closing
    assert (weights[0] == 1.0).any()  # the differing answer digits are ordinary tokens


def test_sft_then_gtpo_with_lora_keep_the_template_and_change_the_adapters(smollm2_dir, tmp_path):
    from transformers import AutoTokenizer

    sft_out = tmp_path / "sft"
    sft = _write(tmp_path / "sft.yaml", {
        "task": "arith", "task_limit": 8, "model_name_or_path": str(smollm2_dir), "output_dir": str(sft_out),
        "max_steps": 1, "per_device_train_batch_size": 2, "learning_rate": 1e-5, "save_strategy": "no",
        "logging_steps": 1, **SHORT,
    })  # fmt: skip
    assert gtpo_main(["sft", str(sft)]) == 0
    source = AutoTokenizer.from_pretrained(smollm2_dir)
    for folder in (sft_out,):
        tok = AutoTokenizer.from_pretrained(folder)
        assert tok.pad_token == tok.eos_token == "<|im_end|>" and tok.chat_template == source.chat_template

    run = tmp_path / "gtpo"
    assert gtpo_main(["train", str(_train_recipe(tmp_path, sft_out, run))]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:  # the GTPO metrics are logged on the real model's BPE completions
        assert r["conflict_frac_pos"] is not None and 0 <= r["conflict_frac_pos"] <= 1
        assert r["entropy"] > 0 and r["completion_entropy"] > 0 and r["initial_entropy"] > 0
    adapters = load_file(run / "adapter_model.safetensors")
    lora_b = [v for k, v in adapters.items() if "lora_B" in k]
    assert lora_b and any(v.abs().max() > 0 for v in lora_b)  # B starts at 0: the updates moved it
    tok = AutoTokenizer.from_pretrained(run)
    assert tok.pad_token == tok.eos_token == "<|im_end|>" and tok.chat_template == source.chat_template


def _steps(out: Path) -> list[int]:
    path = out / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.is_file() else []


def test_a_killed_run_resumes(smollm2_dir, tmp_path):
    out = tmp_path / "killed"
    recipe = _train_recipe(tmp_path, smollm2_dir, out, max_steps=3, save_strategy="steps", save_steps=1)
    cmd = [sys.executable, "-m", "gtpo.trl.train", str(recipe)]
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), ENV.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 400
        while not (out / "checkpoint-1" / "trainer_state.json").is_file():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run did not write checkpoint-1"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # during step 2
    finally:
        proc.wait()
    assert not (out / "checkpoint-3").exists()
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from" in done.stderr
    assert _steps(out) == [1, 2, 3]
    assert json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3


def test_gtpo_eval_scores_a_few_problems(smollm2_dir, tmp_path):
    from gtpo.eval import evaluate

    summary = evaluate(str(smollm2_dir), "arith", tmp_path / "eval", limit=2, n=1, temperature=0.0,
                       max_new_tokens=24, show_progress=False)  # fmt: skip
    (row,) = summary["results"]
    assert row["problems"] == 2 and 0 <= row["accuracy"] <= 1 and 0 <= row["format_rate"] <= 1
    samples = (tmp_path / "eval").rglob("samples.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in samples) == 2
