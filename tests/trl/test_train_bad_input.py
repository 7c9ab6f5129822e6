"""The rows of docs/guards.md, "Bad input: one line, exit 2": each bad input, through `gtpo.cli.main` as a user
types it, exits 2 (Ctrl-C: 130) with one line on stderr that names the field or file and the fix, no
traceback, and before a tokenizer or model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtpo.cli import main
from tests.trl.conftest import RECIPE


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if a tokenizer or model starts loading."""

    def heavy(*args, **kwargs):
        raise AssertionError("a tokenizer or model was loaded before the check")

    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", heavy)
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", heavy)


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_malformed_yaml_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: arith\nmax_steps: 2\nrewards: [format, correctness\nlearning_rate: 1e-4\n")
    assert main(["train", str(bad)]) == 2
    err = one_line(capsys)
    assert f"recipe {bad}, line 4, column " in err and "not valid YAML" in err and "field: value" in err
    assert main(["sft", str(bad)]) == 2
    assert f"recipe {bad}, line 4" in one_line(capsys)


@pytest.mark.parametrize("command", ["train", "sft"])
def test_an_unknown_task_is_named_with_the_choices(command, recipe, capsys, no_model_load):
    if command == "sft":  # gtpo sft has no GRPO fields
        text = Path(recipe).read_text().replace("num_generations: 4\n", "")
        Path(recipe).write_text(text)
    assert main([command, recipe, "--task", "nosuch"]) == 2
    err = one_line(capsys)
    assert f"gtpo {command}: error: task: unknown task 'nosuch'; choose one of: gsm8k, " in err and "my_tasks.py" in err


def test_a_source_for_the_default_generated_task_is_refused(recipe, capsys, no_model_load):
    assert main(["train", recipe, "--task_source", "data/gsm8k.jsonl"]) == 2
    err = one_line(capsys)
    assert "task_source='data/gsm8k.jsonl': task 'arith' (the default task) generates its problems" in err
    assert "set --task" in err


def test_a_model_folder_without_weights_is_refused(tmp_path, capsys):
    folder = tmp_path / "half-copied"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen2"}')
    (folder / "tokenizer.json").write_text("{}")
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "out") + f"model_name_or_path: {folder}\n")
    assert main(["train", str(path)]) == 2
    assert "has config.json but no weights file" in one_line(capsys)


def test_an_unknown_report_to_is_refused(recipe, capsys, no_model_load):
    assert main(["train", recipe, "--report_to", "nosuch"]) == 2
    err = one_line(capsys)
    assert "report_to='nosuch': unknown integration; use 'none', 'all' or some of: " in err and "wandb" in err


def test_a_report_to_whose_package_is_missing_is_refused(recipe, capsys, no_model_load):
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    missing = sorted(set(INTEGRATION_TO_CALLBACK) - set(get_available_reporting_integrations()))
    if not missing:
        pytest.skip("every reporting integration is installed")
    assert main(["train", recipe, "--report_to", missing[0]]) == 2
    assert f"report_to={missing[0]!r}: its package is not installed; install it" in one_line(capsys)


@pytest.mark.parametrize("name", ["/no/such/model", "./nosuch", "../nosuch", "~/nosuch-gtpo-model", "runs/nosuch",
                                  "a/b/c"])  # fmt: skip
def test_a_local_looking_model_path_fails_at_once_online(name, recipe, tmp_path, monkeypatch, capsys, no_model_load):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked about a local path")

    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", no_hub)
    assert main(["train", recipe, "--model_name_or_path", name]) == 2
    err = one_line(capsys)
    assert f"model_name_or_path={name!r}: no such folder" in err and "gtpo model NAME DIR" in err


def test_ctrl_c_before_training_says_nothing_was_trained(recipe, monkeypatch, capsys):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr("gtpo.run.arguments.TaskArguments.load", interrupted)
    assert main(["train", recipe]) == 130
    err = one_line(capsys)
    assert err == (f"gtpo train: interrupted before training started; nothing was trained. "
                   f"Start again with: gtpo train {recipe} --resume")  # fmt: skip


def test_ctrl_c_during_training_gives_the_step_and_the_command_to_continue(recipe, tmp_path, monkeypatch, capsys):
    from gtpo.trl.trainer import GTPOTrainer

    def interrupted(self, *args, **kwargs):
        self.state.global_step = 2
        (tmp_path / "out" / "checkpoint-1").mkdir(parents=True)
        (tmp_path / "out" / "checkpoint-1" / "trainer_state.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(GTPOTrainer, "train", interrupted)
    assert main(["train", recipe, "--learning_rate", "1e-3"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err.strip().splitlines()[-1]  # after transformers' progress bar of the model load
    assert err == (f"gtpo train: interrupted after step 2; --resume continues from {tmp_path / 'out' / 'checkpoint-1'} "
                   f"(the steps after it are trained again). Continue with: gtpo train {recipe} --learning_rate 1e-3 "
                   "--resume")  # fmt: skip


def test_every_row_of_the_bad_input_table_names_a_test_that_exists():
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "guards.md").read_text()
    table = doc.split("## Bad input: one line, exit 2", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(test_[\w]+\.py)::(\w+)", table)
    assert len(named) >= 9
    for file, test in named:
        source = next(Path(__file__).resolve().parents[1].rglob(file)).read_text()
        assert f"def {test}(" in source, f"{file}::{test}"


def test_a_hub_id_that_cannot_be_loaded_is_one_line(recipe, monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.\nCheck your connection.")

    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", unreachable)
    assert main(["train", recipe, "--model_name_or_path", "nosuchorg/nosuchmodel"]) == 2
    assert one_line(capsys) == (
        "gtpo train: error: model_name_or_path='nosuchorg/nosuchmodel': cannot be loaded (We couldn't connect to "
        "'https://huggingface.co' to load the files.); check the hub id and the network, or give a local model folder"
    )


@pytest.mark.parametrize("command", ["train", "sft"])
def test_a_refused_command_leaves_no_new_folder_and_keeps_an_existing_one(command, recipe, tmp_path, monkeypatch,
                                                                           capsys):  # fmt: skip
    if command == "sft":
        Path(recipe).write_text(Path(recipe).read_text().replace("num_generations: 4\n", ""))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):  # refused after the output folder was created and probed
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.")

    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", unreachable)
    out = tmp_path / "out"
    assert main([command, recipe, "--model_name_or_path", "nosuchorg/nosuchmodel"]) == 2
    assert "cannot be loaded" in one_line(capsys)
    assert not out.exists()  # the command made it, the refusal removed it
    nested = tmp_path / "runs" / "a" / "b"
    assert main([command, recipe, "--model_name_or_path", "nosuchorg/nosuchmodel", "--output_dir", str(nested)]) == 2
    one_line(capsys)
    assert not (tmp_path / "runs").exists()  # the parents it made go too
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main([command, recipe, "--model_name_or_path", "nosuchorg/nosuchmodel"]) == 2
    one_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # the user's folder and files stay
