"""`gtpo train` bad input that must fail before anything heavy loads, with the field and the fix named."""

from __future__ import annotations

import json
from collections import namedtuple

import pytest

from gtpo.run.arguments import GuardArguments, RewardArguments
from gtpo.run.checkpoints import OutputDirError, check_output_dir, staging_root
from gtpo.trl.rewards import reward_funcs
from gtpo.trl.train import main, parse_args, resume_checkpoint


@pytest.fixture
def nothing_heavy(monkeypatch):
    """Fail the test if the dataset or the model starts loading."""

    def heavy(*args, **kwargs):
        raise AssertionError("loaded data or a model before the check")

    monkeypatch.setattr("gtpo.tasks.load_task", heavy)
    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", heavy)


def test_output_dir_under_a_file_fails_before_training(recipe, tmp_path, capsys, nothing_heavy):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # tests run as root, where chmod does not stop writes: a path under a file does
    assert main([recipe, "--output_dir", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert f"output_dir={str(blocker / 'run')!r} is not writable" in err and "--output_dir PATH" in err


def test_full_disk_fails_before_training(recipe, tmp_path, capsys, monkeypatch, nothing_heavy):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    assert main([recipe, "--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "GiB free, a checkpoint needs about" in err and "--output_dir PATH" in err


def test_output_dir_check_probes_and_cleans_interrupted_saves(tmp_path):
    (staging_root(tmp_path, 4) / "checkpoint-4").mkdir(parents=True)
    assert check_output_dir(tmp_path / "new" / "run", need_bytes=1) == tmp_path / "new" / "run"
    check_output_dir(tmp_path)
    assert not staging_root(tmp_path, 4).exists() and not list(tmp_path.glob(".gtpo-write-probe-*"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="not writable.*NotADirectoryError|not writable.*FileExistsError"):
        check_output_dir(tmp_path / "file")


def test_dataset_rows_missing_fields_or_empty_answers(recipe, tmp_path, capsys):
    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n" + json.dumps({"question": "2+2?"}) + "\n")
    assert main([recipe, "--task", "gsm8k", "--task_source", str(data)]) == 2
    assert "gsm8k.jsonl:2: field 'answer' is missing" in capsys.readouterr().err
    data.write_text(json.dumps({"question": "1+1?", "answer": ""}) + "\n")
    assert main([recipe, "--task", "gsm8k", "--task_source", str(data)]) == 2
    assert "field 'answer' is empty" in capsys.readouterr().err


def test_bare_resume_flag_and_resume_path_checks(recipe, tmp_path, capsys, nothing_heavy):
    assert parse_args([recipe, "--resume"]).run.resume == "last"
    assert parse_args([recipe, "--resume", "--max_steps", "2"]).run.resume == "last"
    half = tmp_path / "out" / "checkpoint-3"
    half.mkdir(parents=True)  # no trainer_state.json: an incomplete checkpoint
    assert main([recipe, "--resume", str(half)]) == 2
    assert "not a complete checkpoint folder" in capsys.readouterr().err
    assert main([recipe, "--resume_from_checkpoint", "true"]) == 2  # the strict form: there is no complete one
    assert "no complete checkpoint-* folder" in capsys.readouterr().err
    # the lenient form starts at step 0 when there is no complete checkpoint, and finds the last complete one
    args = parse_args([recipe, "--resume"])
    assert resume_checkpoint(args.run.resume, args.training, tmp_path / "out") is None
    assert "no complete checkpoint in" in capsys.readouterr().err
    (tmp_path / "out" / "checkpoint-2").mkdir()
    (tmp_path / "out" / "checkpoint-2" / "trainer_state.json").write_text("{}")
    assert resume_checkpoint(args.run.resume, args.training, tmp_path / "out") == str(tmp_path / "out" / "checkpoint-2")


def test_reward_and_guard_fields_are_checked():
    assert RewardArguments(rewards=["format", "tests.trl.test_guarded:length_reward"]).rewards[1].endswith("length_reward")
    for cls, bad in ((RewardArguments, dict(rewards=["len gth"])), (GuardArguments, dict(reward_timeout=0)),
                     (GuardArguments, dict(max_nonfinite_steps=0))):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            cls(**bad)


def test_user_reward_module_function(recipe, capsys, nothing_heavy):
    func = reward_funcs(["tests.trl.test_guarded:length_reward"])[0]
    assert func.__name__ == "length_reward"
    assert func([[{"role": "assistant", "content": "x"}], ""], answer=["1", "2"]) == [1.0, 0.0]
    assert main([recipe, "--rewards", "format", "no_such_module:f"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'no_such_module' for 'no_such_module:f'" in err and "PYTHONPATH" in err
    one_arg = reward_funcs(["tests.trl.test_guarded:sevens"])[0]  # f(completion) -> float: no answer passed
    assert one_arg(["77", [{"role": "assistant", "content": "a7"}]], answer=["1", "2"]) == [2.0, 1.0]
    assert main([recipe, "--rewards", "format", "tests.trl.test_guarded:three_args"]) == 2
    err = capsys.readouterr().err
    assert "'tests.trl.test_guarded:three_args' has signature (completion" in err and "extra" in err
    assert "f(completion: str) -> float" in err
