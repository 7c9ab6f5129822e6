"""`gtpo.run.options`: the cached description of a recipe command, and the fast path of `gtpo.cli` built on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gtpo.run import options
from gtpo.run.recipe import continue_command


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, where a subprocess given XDG_CACHE_HOME=cache.parents[1] looks too."""
    folder = tmp_path / "cache" / "gtpo" / "cli"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(options, "cache_dir", lambda: folder)
    return folder


def test_help_lists_the_sections_and_gtpo_fields_before_the_inherited_ones(cache, capsys):
    from gtpo.cli import main

    assert main(["train", "--help"]) == 0
    short = capsys.readouterr().out
    titles = [line for line in short.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert titles[:8] == ["options:", "task (TaskArguments):", "rewards (RewardArguments):", "guards (GuardArguments):",
                          "run (RunArguments):", "algorithm (AlgorithmArguments):",
                          "GTPO (GTPOConfig's own fields; docs/algorithm.md):", "model (TRL's ModelConfig):"]  # fmt: skip
    assert "--conflict_scope" in short and "--learning_rate" not in short and "`gtpo train --help-all`" in short
    assert len(list(cache.glob("gtpo-train-*.json"))) == 1  # the description is cached
    assert main(["train", "--help-all"]) == 0
    full = capsys.readouterr().out
    assert full.index("--conflict_scope") < full.index("--learning_rate") and "--adam_beta1" in full


def test_the_cached_description_answers_without_torch(cache):
    from gtpo.cli import main

    assert main(["sft", "--help"]) == 0  # builds and caches gtpo sft's description
    code = ("import sys; from gtpo.cli import main; rc = main(['sft', '--lerning_rate', '1']); "
            "print(rc, sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))")  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "2 []"
    assert out.stderr.strip() == "gtpo sft: error: unknown option --lerning_rate; did you mean --learning_rate?"


def test_the_cache_key_follows_the_source_and_the_libraries(monkeypatch):
    key = options.cache_key("gtpo train")
    assert key == options.cache_key("gtpo train") != options.cache_key("gtpo sft")
    real = options.metadata.version
    monkeypatch.setattr(options.metadata, "version", lambda name: "0.0" if name == "trl" else real(name))
    assert options.cache_key("gtpo train") != key


def test_check_names_reports_keys_then_options():
    fields, flags = ["learning_rate", "max_steps"], {"--learning_rate", "--max_steps", "--max-steps"}
    options.check_names({"max_steps": 1, "env": {}}, ["--max-steps", "3", "--learning_rate=0.1"], fields, flags, "p")
    with pytest.raises(options.OptionError, match=r"unknown recipe key 'max_step'; did you mean 'max_steps'\?"):
        options.check_names({"max_step": 1}, [], fields, flags, "p")
    with pytest.raises(options.OptionError, match=r"unknown option --foo; see `p --help` for the fields"):
        options.check_names({}, ["--foo", "--bar"], fields, flags, "p")


def test_a_closed_pipe_ends_help_without_a_traceback(cache):
    from gtpo.cli import main

    assert main(["train", "--help"]) == 0  # cached: the subprocess answers at once
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "gtpo.cli", "train", "--help-all"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdout.readline().startswith(b"usage: gtpo train")
    proc.stdout.close()  # like `| head -1`: the reader goes away (the full help is larger than a pipe buffer)
    err = proc.stderr.read().decode()
    assert proc.wait() in (0, 141) and "Traceback" not in err and "BrokenPipe" not in err


def test_the_continue_command_adds_resume_and_drops_overwrite():
    assert continue_command("gtpo train", ["r.yaml", "--max_steps", "5"]) == "gtpo train r.yaml --max_steps 5 --resume"
    assert continue_command("gtpo train", ["r.yaml", "--overwrite", "--seed", "1"]) == "gtpo train r.yaml --seed 1 --resume"
    assert continue_command("gtpo sft", ["my recipe.yaml", "--resume", "last"]) == "gtpo sft 'my recipe.yaml' --resume last"


def test_describe_and_format_help_round_trip():
    import argparse

    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--alpha", type=int, default=3, help="the alpha")
    parser.add_argument("--mode", choices=["a", "b"], default="a", help="the mode")
    parser.add_argument("--beta", "--beta-x", type=float, default=None, help="inherited")
    parser.add_argument("--stray", default="s", help="in no section")
    groups = [options.Group("own", ("alpha", "mode")), options.Group("inherited", ("beta",), extended=True)]
    description = options.describe(parser, groups, "p RECIPE")
    assert [g["title"] for g in description["groups"]] == ["own", "inherited", "other options"]
    assert set(description["flags"]) == {"--alpha", "--beta", "--beta-x", "--mode", "--stray", "-h", "--help"}
    short = options.format_help(description, full=False)
    assert "--alpha INT" in short and "(default: 3)" in short and "--mode {a,b}" in short and "--stray" in short
    assert "--beta" not in short and "1 more fields, inherited from TRL and transformers" in short
    assert "--beta FLOAT, --beta-x FLOAT" in options.format_help(description, full=True)
