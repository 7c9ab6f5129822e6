"""The model-argument check: `check_model_source(name, option)`, run before anything heavy loads.

A model argument (`gtpo train` / `gtpo sft` `model_name_or_path`, `gtpo eval --model`) is either a
local model folder or a hub id. The rules, in order:
- an existing folder must hold `config.json` (or `adapter_config.json` for a LoRA adapter) and a
  weights file (`*.safetensors`, `*.bin`, `*.pt`, `*.pth`, `*.gguf`, `*.h5`, `*.msgpack`, or a
  shard index `*.index.json`);
- a name that looks local fails at once when it does not exist, whatever `HF_HUB_OFFLINE` says: an
  absolute path, one starting with `./`, `../` or `~`, one with more than one `/` (a hub id is `name`
  or `org/name`), or one whose parent folder exists (`runs/nosuch` next to `runs/`);
- anything else is a hub id: accepted online; with `HF_HUB_OFFLINE` set, only when the local cache
  holds its `config.json`.
Each failure raises `ModelSourceError`, whose message names the option and the fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".index.json")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # "name" or "org/name"
_OFFLINE_MODELS = "offline models are written with `gtpo model NAME DIR` (`gtpo model --help` lists them)"


class ModelSourceError(ValueError):
    """A model argument names neither a model folder nor a usable hub id; the message names the option."""


def looks_local(name: str) -> bool:
    """True when `name` can only mean a path on this machine (see the module docstring)."""
    if name.startswith(("/", "./", "../", "~")) or name in (".", ".."):
        return True
    if name.count("/") > 1 or _HUB_ID.fullmatch(name) is None:
        return True
    parent = Path(name).parent
    return "/" in name and parent.is_dir()


def _has_weights(folder: Path) -> bool:
    return any(item.is_file() and item.name.endswith(WEIGHT_SUFFIXES) for item in folder.iterdir())


def check_model_source(name: str | None, option: str = "model_name_or_path") -> Path | str:
    """A local model folder (returned as a Path) or a hub id (returned as given). Raises
    `ModelSourceError` naming `option` and the fix."""
    if not name:
        raise ModelSourceError(f"{option}: missing; set a local model folder or a hub id")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise ModelSourceError(f"{option}={name!r}: the folder has no config.json; give a saved model folder")
        if not _has_weights(path):
            raise ModelSourceError(
                f"{option}={name!r}: the folder has config.json but no weights file (*.safetensors, *.bin, ...); "
                "give a folder written by save_pretrained, or finish copying the model into it"
            )
        return path
    if path.exists():
        raise ModelSourceError(f"{option}={name!r}: a file, not a model folder; give the folder that holds config.json")
    if looks_local(name):
        raise ModelSourceError(f"{option}={name!r}: no such folder. Give an existing model folder or a hub id like "
                               f"Qwen/Qwen2.5-Math-1.5B; {_OFFLINE_MODELS}")  # fmt: skip
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes", "on"):
        return name
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return name
    raise ModelSourceError(
        f"{option}={name!r}: no such folder, and HF_HUB_OFFLINE is set, so no hub download (the hub id is not in "
        f"the local cache). Give a model folder, or unset HF_HUB_OFFLINE to download it; {_OFFLINE_MODELS}"
    )
