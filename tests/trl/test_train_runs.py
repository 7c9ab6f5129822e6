"""`gtpo train` on the tiny model: a run folder is never written into by accident, a finished run trains
nothing, a resume refuses or records changed fields, and a run that cannot learn does not say "done"."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from gtpo.trl.train import main, parse_args
from tests.run.test_folder import folder_hash

BASE = """
output_dir: {out}
model_name_or_path: {model}
use_cpu: true
bf16: false
per_device_train_batch_size: 8
num_generations: 4
max_completion_length: 8
task_limit: 16
max_steps: 1
learning_rate: 1.0e-3
logging_steps: 1
save_strategy: steps
save_steps: 1
report_to: none
disable_tqdm: true
"""


def always_hangs(completion: str) -> float:
    """A user reward that never answers in time: used with a short reward_timeout."""
    time.sleep(30)
    return 0.0


@pytest.fixture
def recipe(tmp_path, tiny_model_dir):
    path = tmp_path / "recipe.yaml"
    path.write_text(BASE.format(out=tmp_path / "out", model=tiny_model_dir))
    return str(path)


def steps(out) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_run_folder_is_never_written_into_by_accident(recipe, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([recipe]) == 0
    capsys.readouterr()
    before = folder_hash(out)
    assert main([recipe]) == 2  # the same command again
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run" in err[0] and "--resume to continue" in err[0] and "--overwrite" in err[0]
    assert main([recipe, "--resume"]) == 0  # max_steps reached: nothing trained, nothing written
    assert "already reached step 1 of max_steps=1: nothing to train" in capsys.readouterr().err
    assert main([recipe, "--resume", "--learning_rate", "5e-2"]) == 2  # the checkpoint's schedule would win
    assert "learning_rate=0.05 (the run's: 0.001)" in capsys.readouterr().err
    assert folder_hash(out) == before


@pytest.mark.slow  # three short runs, ~60 s on 2 shared cores
def test_resume_records_what_it_changed_and_overwrite_starts_again(recipe, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([recipe]) == 0
    assert main([recipe, "--resume", "--max_steps", "3", "--reward_timeout", "60", "--logging_steps", "2"]) == 0
    saved = yaml.safe_load((out / "run_config.yaml").read_text())
    assert saved["resumes"] == [{"step": 1, "checkpoint": "checkpoint-1", "changed": {
        "reward_timeout": {"was": 120.0, "now": 60.0}, "max_steps": {"was": 1, "now": 3},
        "logging_steps": {"was": 1, "now": 2}}}]  # fmt: skip
    assert saved["training"]["max_steps"] == 3 and saved["ended"] == {"step": 3, "max_steps": 3}
    trained = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # logged every 2 steps, as recorded (step 3's row is TRL's end-of-training log of the metrics pending since step 2,
    # without a loss); with the checkpoint's logging_steps 1 step 3 would log a loss too
    assert [(r["step"], r["loss"] is not None) for r in trained] == [(1, True), (2, True), (3, False)]
    assert (out / "checkpoint-3").is_dir()
    (out / "notes.txt").write_text("mine")
    assert main([recipe, "--overwrite"]) == 0
    assert "--overwrite: deleted the run" in capsys.readouterr().err
    assert steps(out) == [1] and not (out / "checkpoint-3").exists() and (out / "notes.txt").read_text() == "mine"
    saved = yaml.safe_load((out / "run_config.yaml").read_text())
    assert "resumes" not in saved and saved["ended"] == {"step": 1, "max_steps": 1}


def test_a_dataset_smaller_than_one_generation_batch_exits_2_before_the_model_loads(recipe, capsys, monkeypatch):
    def heavy(*args, **kwargs):
        raise AssertionError("loaded the tokenizer or the model before the check")

    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", heavy)
    assert main([recipe, "--task_limit", "1"]) == 2  # a generation batch takes 8 / 4 = 2 prompts
    assert "task: 1 problems, fewer than one generation batch takes (2 prompts" in capsys.readouterr().err


@pytest.mark.slow  # ~25 s on 2 shared cores; RewardGuard's count is tested in tests/run/test_guards.py
def test_a_reward_that_always_fails_stops_the_run_with_exit_1(recipe, tmp_path, capsys):
    argv = [recipe, "--rewards", "format", "tests.trl.test_train_runs:always_hangs", "--reward_timeout", "0.2",
            "--max_failed_reward_steps", "2", "--max_steps", "5"]  # fmt: skip
    with pytest.warns(RuntimeWarning, match="RewardTimeout"):
        assert main(argv) == 1
    captured = capsys.readouterr()
    assert "reward function 'always_hangs' failed on every completion of 2 generation batches in a row" in captured.err
    assert "RewardTimeout: no result within reward_timeout=0.2s" in captured.err and "done" not in captured.out
    assert "reward_errors=8" in captured.out  # the console line of step 1
    assert steps(tmp_path / "out") == [1]


def test_reward_guard_off_is_parsed_from_yaml(recipe, tmp_path):
    path = tmp_path / "off.yaml"
    path.write_text(open(recipe).read() + "reward_guard: off\nmax_failed_reward_steps: 5\n")
    guards = parse_args([str(path)]).guards
    assert guards.reward_guard is False and guards.max_failed_reward_steps == 5


@pytest.mark.parametrize("bad", [["--rewards", "./no_such_reward.py:score"], ["--task", "custom"],
                                 ["--task_limit", "1"]])  # fmt: skip
def test_overwrite_with_bad_input_exits_2_and_keeps_the_old_run(recipe, tmp_path, capsys, bad):
    # --overwrite deletes the old run only once the new run's rewards and data are known good
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    (out / "checkpoint-1").mkdir()
    (out / "checkpoint-1" / "trainer_state.json").write_text('{"global_step": 1}')
    before = folder_hash(out)
    assert main([recipe, "--overwrite", *bad]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "deleted" not in err
    assert folder_hash(out) == before
