"""Your own data and reward from the command line: a JSONL with its own field names and a reward file in a
temporary folder, `gtpo train` for two steps, `gtpo eval` with a grader file and `gtpo report`, all run
from that folder (not the repository) through `gtpo.cli.main`, with nothing on PYTHONPATH."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from gtpo.cli import main

REPO = Path(__file__).resolve().parents[2]

REWARD_FILE = '''
CALLS = []  # (completion, answer, level) of every call: the test reads it through the loaded module


def matches(completions, target, level, **kwargs):
    """TRL's batch convention: the dataset's other columns arrive as keyword arguments."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    CALLS.extend(zip(texts, target, level))
    return [float(str(t) in x) + 0.1 * lv for x, t, lv in zip(texts, target, level)]


def brevity(completion: str) -> float:
    return 1.0 / (1.0 + len(completion))
'''

GRADER_FILE = """
def check(completion: str, answer) -> float:
    return 1.0 if str(answer) in completion else 0.25  # 0.25 never counts as correct


def last_word(completion: str):
    words = completion.split()
    return words[-1] if words else None
"""


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    rows = [{"q": f"Say {i}", "target": str(i), "level": 1 + i % 2} for i in range(8)]
    rows[3]["q"] = [{"role": "user", "content": "Say 3"}]  # a prompt may be chat messages
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "my_reward_31.py").write_text(REWARD_FILE)
    (folder / "my_grader_31.py").write_text(GRADER_FILE)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(folder))])
    return folder


def test_own_data_reward_and_grader_from_the_command_line(user_folder, tiny_model_dir, capsys):
    with pytest.raises(ImportError):
        __import__("my_reward_31")  # not importable: only the file path reaches it
    out = user_folder / "run"
    argv = ["train", str(REPO / "recipes" / "custom-example.yaml"), "--model_name_or_path", str(tiny_model_dir),
            "--output_dir", "run", "--task_source", "data.jsonl", "--prompt_field", "q", "--answer_field", "target",
            "--system_prompt", "Be brief.", "--rewards", "./my_reward_31.py:matches", "my_reward_31.py:brevity",
            "--reward_weights", "1.0", "1.0", "--max_steps", "2", "--per_device_train_batch_size", "4",
            "--num_generations", "2", "--max_completion_length", "6", "--save_strategy", "no",
            "--report_to", "tensorboard"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    module = next(m for name, m in sys.modules.items() if name.startswith("gtpo_user.my_reward_31_"))
    assert len(module.CALLS) == 8  # 2 steps x 2 prompts x 2 completions, each with its row's target and level
    rows = {
        json.loads(line)["target"]: json.loads(line)
        for line in (user_folder / "data.jsonl").read_text().splitlines()
    }
    assert all(level == rows[target]["level"] for _, target, level in module.CALLS)

    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:  # each function's mean under its own name; the reward is their weighted sum
        assert m["reward/matches"] >= 0.1 and 0 < m["reward/brevity"] <= 1
        assert m["reward"] == pytest.approx(m["reward/matches"] + m["reward/brevity"], rel=1e-5)
        assert m["reward_format"] is None and m["accuracy"] is None
    saved = yaml.safe_load((out / "run_config.yaml").read_text())
    assert saved["task"]["task"] == "custom" and saved["task"]["prompt_field"] == "q"

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = out.glob("runs/*/events.out.tfevents.*")  # transformers' default: OUTPUT/runs/<time>_<host>
    tags = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert {"train/rewards/matches/mean", "train/rewards/brevity/mean", "train/reward"} <= set(tags)

    assert main(["eval", "--model", "run", "--task", "custom", "--source", "data.jsonl", "--prompt_field", "q",
                 "--answer_field", "target", "--grader", "./my_grader_31.py:check", "--extract",
                 "my_grader_31.py:last_word", "--n", "2", "--k", "1,2", "--limit", "3", "--max_new_tokens", "4",
                 "--output", "eval"]) == 0  # fmt: skip
    summary = json.loads((user_folder / "eval" / "summary.json").read_text())
    (row,) = summary["results"]
    samples = [json.loads(line) for line in (user_folder / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(s["format"] is None for s in samples)
    for s in samples:  # the grader's float decides: 1.0 is correct, 0.25 is not
        target = s["id"].split("-")[1]  # ids are test-<row>, and row i's target is str(i)
        assert s["score"] == (1.0 if target in s["completion"] else 0.25) and s["correct"] == (
            s["score"] == 1.0
        )
        assert s["answer"] == (s["completion"].split() or [None])[-1]
    assert row["accuracy"] == pytest.approx(sum(s["correct"] for s in samples) / 6)
    assert row["score"] == pytest.approx(sum(s["score"] for s in samples) / 6)
    assert row["format_rate"] is None and row["grader_errors"] == 0
    assert summary["grading"]["grader"] == "./my_grader_31.py:check"

    assert main(["report", "run"]) == 0
    report = out / "report"
    assert (report / "reward.png").is_file() and (report / "reward_functions.png").is_file()
    assert not (report / "accuracy.png").exists() and not (report / "format_rate.png").exists()
    assert "reward/matches" in (report / "summary.md").read_text()


def test_custom_fields_with_another_task_and_bad_data_exit_2_with_one_line(
    tmp_path, monkeypatch, capsys, tiny_model_dir
):
    monkeypatch.chdir(tmp_path)
    recipe = str(REPO / "recipes" / "custom-example.yaml")
    assert main(["train", recipe, "--task", "gsm8k", "--output_dir", "run"]) == 2
    assert "prompt_field, answer_field, system_prompt: only the custom task takes them (task='gsm8k')" in (
        capsys.readouterr().err
    )
    assert main(["train", recipe, "--task", "gsm9k", "--output_dir", "run"]) == 2  # a typo is named as one
    err = capsys.readouterr().err
    assert "(task='gsm9k')" in err and "'gsm9k' is not a registered task either (choose one of: gsm8k," in err
    rows = [{"question": "q", "target": "1"}, {"q": 1}]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    status = main(["train", recipe, "--model_name_or_path", str(tiny_model_dir), "--output_dir", "run",
                   "--task_source", "data.jsonl", "--rewards", f"{REPO}/examples/custom/reward.py:score"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err  # one line, before any model loads
    assert "data.jsonl:2: field 'question' is missing (prompt_field; pass --prompt_field COLUMN)" in err


@pytest.mark.slow
def test_a_reward_file_is_loaded_once_in_each_training_process(tmp_path, tiny_model_dir):
    import os
    import socket
    import subprocess

    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"q": f"Say {i}", "a": str(i)}) + "\n" for i in range(8))
    )
    (tmp_path / "counted.py").write_text(
        "import os\n"
        "with open('loads.txt', 'a') as f:\n    f.write(f\"{os.getpid()}\\n\")\n"
        "def score(completion, answer):\n"
        "    with open('calls.txt', 'a') as f:\n        f.write(f\"{os.getpid()}\\n\")\n"
        "    return float(answer in completion)\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), "-m", "gtpo.cli", "train", str(REPO / "recipes" / "custom-example.yaml"),
               "--model_name_or_path", str(tiny_model_dir), "--output_dir", "run", "--task_source", "data.jsonl",
               "--prompt_field", "q", "--answer_field", "a", "--rewards", "./counted.py:score", "--reward_weights", "1",
               "--max_steps", "2", "--per_device_train_batch_size", "2", "--num_generations", "2",
               "--max_completion_length", "4", "--save_strategy", "no"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    loads = (tmp_path / "loads.txt").read_text().split()
    calls = (tmp_path / "calls.txt").read_text().split()
    assert len(loads) == len(set(loads)) == 2  # one load in each of the two processes
    assert set(calls) == set(loads)  # each process scored its own completions with its own copy
