"""Slow: `gtpo train` SIGKILLed in the middle of a step, resumed with --resume, matches an uninterrupted run."""

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
from safetensors.torch import load_file

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "tiny-cpu.yaml")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}  # fmt: skip


def command(model_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gtpo.trl.train", RECIPE, "--model_name_or_path", str(model_dir),
            "--output_dir", str(out), "--per_device_train_batch_size", "8", "--num_generations", "4",
            "--max_completion_length", "12", "--task_limit", "64", "--learning_rate", "1e-2",
            "--max_steps", "6", "--save_steps", "2", "--save_total_limit", "10", "--full_determinism", "true",
            *extra]  # fmt: skip


def steps(out: Path) -> list[int]:
    path = out / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.is_file() else []


def run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_sigkill_mid_step_then_resume_matches_an_uninterrupted_run(tiny_model_dir, tmp_path):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    run(command(tiny_model_dir, reference))

    # start the same run and SIGKILL it during step 4: checkpoint-2 is on disk, step 3 was logged
    proc = subprocess.Popen(command(tiny_model_dir, crashed), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while 3 not in steps(crashed):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run did not reach step 3"
            time.sleep(0.01)
        time.sleep(0.05)  # a step takes ~0.2 s: now inside step 4 (generation or the update)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (crashed / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (crashed / "checkpoint-4").exists() and not (crashed / "model.safetensors").exists()
    assert steps(crashed)[:3] == [1, 2, 3]  # step 3 was logged after the checkpoint: the resumed run redoes it

    run(command(tiny_model_dir, crashed, "--resume"))
    rows = [json.loads(line) for line in (crashed / "metrics.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (reference / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]  # contiguous, no duplicate
    # CPU, one thread, full_determinism: the resumed run is the uninterrupted run, bit for bit
    for key in ("loss", "reward", "entropy", "initial_entropy", "completion_length", "lr"):
        assert [r[key] for r in rows] == [e[key] for e in expected], key
    final, ref = load_file(crashed / "model.safetensors"), load_file(reference / "model.safetensors")
    assert final.keys() == ref.keys()
    for name in ref:
        assert torch.equal(final[name], ref[name]), name
    # the optimizer state at the end matches too (same data order, moments and step counts)
    opt, opt_ref = (torch.load(d / "checkpoint-6" / "optimizer.pt", weights_only=True) for d in (crashed, reference))
    for index, state in opt_ref["state"].items():
        for key, value in state.items():
            assert torch.equal(opt["state"][index][key], value), (index, key)
