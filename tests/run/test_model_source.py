"""`gtpo.run.model_source.check_model_source`: model folders need weights; local-looking paths never reach the hub."""

from __future__ import annotations

import pytest

from gtpo.run.model_source import ModelSourceError, check_model_source, looks_local


def test_which_names_look_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    local = ["/abs/model", "./m", "../m", "~/m", ".", "runs/nosuch", "a/b/c", "with space"]
    hub = ["Qwen/Qwen2.5-Math-1.5B", "gpt2", "nosuchorg/model"]
    assert [looks_local(name) for name in local] == [True] * len(local)
    assert [looks_local(name) for name in hub] == [False] * len(hub)


def test_hub_ids_online_and_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert check_model_source("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"  # checked by the hub later
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(ModelSourceError, match=r"HF_HUB_OFFLINE is set, so no hub download"):
        check_model_source("Qwen/Qwen2.5-Math-1.5B")


def test_folders_need_a_config_and_weights(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    with pytest.raises(ModelSourceError, match="has no config.json"):
        check_model_source(str(folder))
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelSourceError, match=r"model_name_or_path='.*': the folder has config.json but no weights"):
        check_model_source(str(folder))
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"")
    assert check_model_source(str(folder)) == folder
    with pytest.raises(ModelSourceError, match="a file, not a model folder"):
        check_model_source(str(folder / "config.json"), "--model")
