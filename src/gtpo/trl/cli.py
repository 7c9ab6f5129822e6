"""`gtpo train RECIPE.yaml [--field value ...]`: GTPO or the GRPO baselines from a YAML recipe.

One parser over three dataclasses, in TRL's flat convention: `TaskArguments` (algo, task, rewards),
`GTPOConfig` (TRL's GRPOConfig + the GTPO fields) and TRL's `ModelConfig` (model path or hub id,
dtype, LoRA, 4/8-bit). Every recipe key is turned into its `--key value` form and parsed with the
command-line overrides after it, so YAML values get the same type checks as flags and the command
line wins. Unknown keys and wrong types are errors that name the field.

Before anything heavy loads, the model path and the run folder are checked (writable, room for a
checkpoint: `gtpo.trl.checkpointing.check_output_dir`). `--resume` (bare, or `--resume PATH`)
continues from the last complete checkpoint; checkpoints are written atomically.

`--algo gtpo` trains `GTPOTrainer`; `--algo grpo` trains TRL's `GRPOTrainer` unchanged (beta = 0, or
beta > 0 with a frozen reference model) with the same recipe, rewards and logging, so runs compare
like for like. The run folder (`output_dir`) receives run_config.yaml, metrics.jsonl,
conflict_samples.jsonl (GTPO), checkpoint-*/ and the final model and tokenizer.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

from gtpo.trl.config import GTPOConfig, TaskArguments
from trl import GRPOConfig, ModelConfig

GTPO_ONLY_FIELDS = {f.name for f in dataclasses.fields(GTPOConfig)} - {f.name for f in dataclasses.fields(GRPOConfig)}


class RecipeError(ValueError):
    """A recipe or command-line problem; the message names the field and the fix."""


class _Parser(HfArgumentParser):
    def error(self, message: str):  # argparse would print and exit; the CLI reports it and returns 2
        raise RecipeError(f"{message}; `{self.prog} --help` lists each field's type and choices")


def build_parser() -> _Parser:
    return _Parser((TaskArguments, GTPOConfig, ModelConfig), prog="gtpo train", allow_abbrev=False)


def _as_flags(key: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [f"--{key}", "true" if value else "false"]
    if isinstance(value, (list, tuple)):
        if not value:
            raise RecipeError(f"{key}: an empty list cannot be expressed; remove the key to get the default")
        return [f"--{key}", *(json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in value)]
    if isinstance(value, dict):
        return [f"--{key}", json.dumps(value)]
    return [f"--{key}", str(value)]


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe {path}: no such file")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path}: must be a YAML mapping of field: value")
    return data


def parse_recipe(argv: list[str], parser: HfArgumentParser) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every field's value, the fields the recipe or the command line set) for `RECIPE.yaml [--field value ...]`.

    The recipe is the first argument (or `--config PATH`); its keys become `--key value` flags parsed
    before the command line's, so the command line wins and both get the same type checks."""
    argv = list(argv)
    prog = parser.prog
    recipe: dict[str, Any] = {}
    if "--config" in argv:
        at = argv.index("--config")
        if at + 1 >= len(argv):
            raise RecipeError("--config needs a path to a YAML recipe")
        recipe = load_recipe(argv[at + 1])
        del argv[at : at + 2]
    elif argv and not argv[0].startswith("-"):
        recipe = load_recipe(argv.pop(0))
    for at, arg in enumerate(argv):  # a bare --resume means the last complete checkpoint
        if arg == "--resume" and (at + 1 == len(argv) or argv[at + 1].startswith("--")):
            argv[at : at + 1] = ["--resume", "last"]
    for key, value in (recipe.pop("env", None) or {}).items():  # TRL's convention: env vars in the recipe
        os.environ[str(key)] = str(value)

    known = {action.dest: action for action in parser._actions if action.dest != "help"}
    flags: list[str] = []
    for key, value in recipe.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; see `{prog} --help` for the fields"
            raise RecipeError(f"unknown recipe key {key!r}{hint}")
        if value is None:
            known[key].default = None  # an explicit null: the field's None, no type conversion
            continue
        flags += _as_flags(key, value)
    options = {option for action in parser._actions for option in action.option_strings}  # incl. --no_*
    for arg in argv:
        if arg.startswith("--") and arg.split("=", 1)[0] not in options:
            name = arg[2:].split("=", 1)[0]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean --{close[0]}?" if close else f"; see `{prog} --help` for the fields"
            raise RecipeError(f"unknown option --{name}{hint}")
    namespace, rest = parser.parse_known_args(flags + argv)
    if rest:
        raise RecipeError(f"unexpected arguments {rest}: pass options as --field value")
    values = vars(namespace)
    explicit = {key: values[key] for key in known if key in recipe or any(a.split("=")[0] == f"--{key}" for a in argv)}
    return values, explicit


def build(cls: type, values: dict[str, Any], names: list[str] | None = None) -> Any:
    """An instance of the dataclass `cls` from parsed values (its init fields, or `names`)."""
    names = names or [f.name for f in dataclasses.fields(cls) if f.init]
    return cls(**{name: values[name] for name in names if name in values})


def parse_args(argv: list[str]) -> tuple[TaskArguments, GRPOConfig, ModelConfig, dict[str, Any]]:
    """(task args, training config (GTPOConfig for gtpo, GRPOConfig for grpo), model config, explicit values)."""
    values, explicit = parse_recipe(argv, build_parser())
    task = build(TaskArguments, values)
    model = build(ModelConfig, values)
    if task.algo == "gtpo":
        training = build(GTPOConfig, values)
    else:
        set_gtpo = sorted(GTPO_ONLY_FIELDS & set(explicit))
        if set_gtpo:
            print(f"gtpo train: --algo grpo ignores the GTPO fields {set_gtpo}", file=sys.stderr)
        names = [f.name for f in dataclasses.fields(GRPOConfig) if f.init]
        if values.get("scale_rewards") is None:  # unset: GTPO takes it from gtpo_variant, GRPO keeps TRL's default
            names.remove("scale_rewards")
        training = build(GRPOConfig, values, names)  # loss_type keeps GTPOConfig's default 'grpo' unless set
    return task, training, model, explicit


def check_model_path(model: ModelConfig) -> None:
    name = model.model_name_or_path
    if not name:
        raise RecipeError("model_name_or_path: missing; set a local model folder or a hub id")
    if Path(name).expanduser().is_dir():
        return
    hub_like = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if hub_like and not offline:
        return
    if hub_like:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    raise RecipeError(
        f"model_name_or_path={name!r}: no such folder{' (and HF_HUB_OFFLINE is set)' if hub_like else ''}. "
        f"Offline models are written with `gtpo model NAME {name}` (NAME: tiny, smollm2-135m-instruct; "
        "see `gtpo model --help`)"
    )


def write_run_config(path: Path, task: Any, training: Any, model: ModelConfig) -> None:
    """OUTPUT/run_config.yaml: every resolved field (algo 'sft' for `gtpo sft` runs), written atomically."""
    def plain(value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return str(value)

    resolved = {
        "algo": getattr(task, "algo", "sft"),
        "task": plain(dataclasses.asdict(task)),
        "model": plain(dataclasses.asdict(model)),
        "training": plain(training.to_dict()),
    }
    if hasattr(training, "variant_overrides"):  # GTPOConfig: the preset and the fields that differ from it
        resolved["gtpo_variant"] = {"name": training.gtpo_variant, "overrides": plain(training.variant_overrides)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(resolved, sort_keys=False))
    os.replace(tmp, path)


def _note(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:  # once, not once per process
        print(message, file=sys.stderr)


def resume_checkpoint(task: Any, training: Any, output_dir: Path, prog: str = "gtpo train") -> str | None:
    """The checkpoint to resume from: `resume` (lenient: none yet starts at step 0) or resume_from_checkpoint."""
    from gtpo.trl.checkpointing import is_complete, last_complete_checkpoint

    field, value = ("resume", task.resume) if task.resume else ("resume_from_checkpoint", training.resume_from_checkpoint)
    if value is None or value is False:
        return None
    if str(value).lower() in ("true", "last"):
        found = last_complete_checkpoint(output_dir)
        if found is not None:
            _note(f"{prog}: resuming from {found}")
            return str(found)
        if field == "resume":
            _note(f"{prog}: --resume: no complete checkpoint in {output_dir} yet; starting at step 0")
            return None
        raise RecipeError(f"resume_from_checkpoint: no complete checkpoint-* folder in {output_dir}; "
                          "use --resume to start at step 0 when there is none")
    if not is_complete(value):
        raise RecipeError(f"{field}={value!r}: not a complete checkpoint folder (no trainer_state.json); "
                          f"give a checkpoint-N folder, or --resume for the last complete one in {output_dir}")
    return str(value)


def train(task: TaskArguments, training: GRPOConfig, model: ModelConfig) -> Path:
    """Build the dataset, rewards, trainer and callbacks; train; save the final model. Returns output_dir."""
    from transformers import AutoTokenizer

    from gtpo.trl.callbacks import RunLogger
    from gtpo.trl.checkpointing import check_output_dir, estimate_checkpoint_bytes
    from gtpo.trl.rewards import reward_funcs
    from gtpo.trl.safety import GuardedGRPOTrainer
    from gtpo.trl.trainer import GTPOTrainer
    from trl import get_peft_config, get_quantization_config

    check_model_path(model)
    output_dir = Path(training.output_dir)
    check_output_dir(output_dir, need_bytes=estimate_checkpoint_bytes(model.model_name_or_path, use_peft=model.use_peft))
    resume = resume_checkpoint(task, training, output_dir)
    try:
        funcs = reward_funcs(task.rewards, task.answer_tolerance)
    except ValueError as err:
        raise RecipeError(str(err)) from err
    dataset = task.load()
    if training.reward_weights is not None and len(training.reward_weights) != len(task.rewards):
        raise RecipeError(
            f"reward_weights={training.reward_weights}: one weight per reward in rewards={task.rewards}"
        )
    init_kwargs = {"revision": model.model_revision, "dtype": model.dtype}
    if model.attn_implementation is not None:
        init_kwargs["attn_implementation"] = model.attn_implementation
    training.model_init_kwargs = {**init_kwargs, **(training.model_init_kwargs or {})}
    tokenizer = AutoTokenizer.from_pretrained(
        model.model_name_or_path, revision=model.model_revision, padding_side="left", truncation_side="left",
        trust_remote_code=training.trust_remote_code,
    )  # fmt: skip
    logger = RunLogger(output_dir, tokenizer=tokenizer)
    trainer_cls = GTPOTrainer if task.algo == "gtpo" else GuardedGRPOTrainer
    trainer = trainer_cls(
        model=model.model_name_or_path,
        reward_funcs=funcs,
        max_nonfinite_steps=task.max_nonfinite_steps,
        reward_timeout=task.reward_timeout,
        args=training,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[logger],
        peft_config=get_peft_config(model),
        quantization_config=get_quantization_config(model),
    )
    if isinstance(trainer, GTPOTrainer) and task.conflict_samples:
        logger.sample_source = lambda: trainer.latest_conflict_sample
    if trainer.accelerator.is_main_process:
        write_run_config(output_dir / "run_config.yaml", task, training, model)
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(output_dir))
    return output_dir


def parse_or_help(argv: list[str], parser: HfArgumentParser, parse) -> tuple[Any, int | None]:
    """The shared start of `gtpo train` / `gtpo sft`: --help (exit 0), or `parse(argv)` with bad input
    reported on stderr (exit 2). Returns (parsed, None) or (None, exit status)."""
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        print(f"\nusage: {parser.prog} RECIPE.yaml [--field value ...]   (the command line overrides the recipe)")
        return None, 0
    try:
        return parse(argv), None
    except (RecipeError, ValueError, TypeError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return None, 2


def main(argv: list[str] | None = None) -> int:
    parsed, status = parse_or_help(list(sys.argv[1:] if argv is None else argv), build_parser(), parse_args)
    if parsed is None:
        return status
    task, training, model, _ = parsed
    from gtpo.tasks import TaskSourceError
    from gtpo.trl.checkpointing import OutputDirError
    from gtpo.trl.safety import RunGuardError

    try:
        out = train(task, training, model)
    except (RecipeError, OutputDirError, TaskSourceError) as err:
        print(f"gtpo train: error: {err}", file=sys.stderr)
        return 2
    except RunGuardError as err:
        print(f"gtpo train: error: {err}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"gtpo train: done; run folder {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
