"""Recipes: a YAML file of `field: value` plus `--field value` overrides, parsed into dataclasses.

The convention of every training command (`gtpo train`, `gtpo sft`), in TRL's flat style: one
`HfArgumentParser` over the command's dataclasses; every recipe key is turned into its `--key value`
form and parsed before the command-line overrides, so YAML values get the same type checks as flags
and the command line wins. Unknown keys and wrong types are errors that name the field (with the
closest field name as a hint). An `env:` mapping in the recipe sets environment variables (TRL's
convention).

Also here, shared by the commands: `run_command` (help, parse, run, errors and exit status),
`--help` handling (`parse_or_help`), the resolved
`run_config.yaml` (`write_run_config`), the checkpoint to resume from (`resume_checkpoint`: `--resume`
= the last complete checkpoint, or a given one), and `check_model`, the model-argument check.
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

from gtpo.run.io import write_text_atomic


class RecipeError(ValueError):
    """A recipe or command-line problem; the message names the field and the fix."""


class RecipeParser(HfArgumentParser):
    def error(self, message: str):  # argparse would print and exit; the CLI reports it and returns 2
        raise RecipeError(f"{message}; `{self.prog} --help` lists each field's type and choices")


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


def run_config(sections: dict[str, Any], training: Any, *, algo: str) -> dict[str, Any]:
    """The resolved run configuration: `algo`, each dataclass of `sections` under its name (task, rewards,
    guards, run, model), the training config, and for GTPO the variant with the fields set explicitly against it."""
    def plain(value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return str(value)

    resolved: dict[str, Any] = {"algo": algo}
    resolved.update({name: plain(dataclasses.asdict(section)) for name, section in sections.items()})
    resolved["training"] = plain(training.to_dict())
    if hasattr(training, "variant_overrides"):  # GTPOConfig: the preset and the fields that differ from it
        resolved["gtpo_variant"] = {"name": training.gtpo_variant, "overrides": plain(training.variant_overrides)}
    return resolved


def write_run_config(path: Path, sections: dict[str, Any], training: Any, *, algo: str,
                     resumes: list[dict[str, Any]] | None = None) -> None:
    """OUTPUT/run_config.yaml, written atomically: `run_config(...)`, plus the run's resume history
    (`resumes`, from `gtpo.run.folder.open_run_folder`) when it has one."""
    resolved = run_config(sections, training, algo=algo)
    if resumes:
        resolved["resumes"] = resumes
    write_text_atomic(path, yaml.safe_dump(resolved, sort_keys=False))


def note(message: str) -> None:
    """Print `message` on stderr once per run (on the main process only)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(message, file=sys.stderr)


def resume_checkpoint(resume: str | None, training: Any, output_dir: Path, prog: str = "gtpo train") -> str | None:
    """The checkpoint to resume from: `resume` (lenient: none yet starts at step 0) or resume_from_checkpoint."""
    from gtpo.run.checkpoints import is_complete, last_complete_checkpoint

    field, value = ("resume", resume) if resume else ("resume_from_checkpoint", training.resume_from_checkpoint)
    if value is None or value is False:
        return None
    if str(value).lower() in ("true", "last"):
        found = last_complete_checkpoint(output_dir)
        if found is not None:
            return str(found)
        if field == "resume":
            note(f"{prog}: --resume: no complete checkpoint in {output_dir} yet; starting at step 0")
            return None
        raise RecipeError(f"resume_from_checkpoint: no complete checkpoint-* folder in {output_dir}; "
                          "use --resume to start at step 0 when there is none")
    if not is_complete(value):
        raise RecipeError(f"{field}={value!r}: not a complete checkpoint folder (no trainer_state.json); "
                          f"give a checkpoint-N folder, or --resume for the last complete one in {output_dir}")
    return str(value)


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




def check_model(name: str | None, option: str = "model_name_or_path") -> None:
    """`gtpo.models.check_model_source`, reported as a RecipeError (a bad recipe value)."""
    from gtpo.models import ModelSourceError, check_model_source

    try:
        check_model_source(name, option)
    except ModelSourceError as err:
        raise RecipeError(str(err)) from None


def run_command(argv: list[str] | None, parser: HfArgumentParser, parse, execute) -> int:
    """A training command from start to end: `--help`, `parse(argv)`, then `execute(parsed) -> output_dir`.
    Bad input (recipe, output folder, task data) is reported on stderr with exit status 2; a run guard
    that stopped the run, with status 1."""
    from gtpo.run.checkpoints import OutputDirError
    from gtpo.run.folder import RunFinished
    from gtpo.run.guards import RunGuardError
    from gtpo.tasks import TaskSourceError

    parsed, status = parse_or_help(list(sys.argv[1:] if argv is None else argv), parser, parse)
    if parsed is None:
        return status
    try:
        out = execute(parsed)
    except (RecipeError, OutputDirError, TaskSourceError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except RunGuardError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except RunFinished as finished:  # --resume on a run that reached its max_steps: nothing trained or written
        print(str(finished), file=sys.stderr)
        return 0
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{parser.prog}: done; run folder {out}")
    return 0
