"""Recipes: a YAML file of `field: value` plus `--field value` overrides, parsed into dataclasses.

The convention of every training command (`gtpo train`, `gtpo sft`), in TRL's flat style: one
`HfArgumentParser` over the command's dataclasses; every recipe key is turned into its `--key value`
form and parsed before the command-line overrides, so YAML values get the same type checks as flags
and the command line wins. Unknown keys and wrong types are errors that name the field (with the
closest field name as a hint). An `env:` mapping in the recipe sets environment variables (TRL's
convention).

Also here, shared by the commands: `run_command` (help, parse, run, errors and exit status; Ctrl-C
gives one line with the step reached and the command that continues, exit 130), `--help` handling
(`parse_or_help`; the help sections and the cached description are `gtpo.run.options`), the resolved
`run_config.yaml` (`write_run_config`), the checkpoint to resume from (`resume_checkpoint`: `--resume`
= the last complete checkpoint, or a given one), and `check_model`, the model-argument check.
Importing this module does not import transformers (`RecipeParser` is built on first use).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gtpo.run.io import write_text_atomic
from gtpo.run.options import (
    Group,
    OptionError,
    check_names,
    describe,
    format_help,
    help_request,
    print_text,
    store,
)

if TYPE_CHECKING:
    from transformers import HfArgumentParser


# transformers' deprecated field names and their current ones: TRL's configs still give the old names
# their defaults, which parse_recipe hands on under the new name unless the recipe set the old one.
RENAMED = (("gradient_checkpointing", "activation_checkpointing"),
           ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs"))  # fmt: skip


class RecipeError(ValueError):
    """A recipe or command-line problem; the message names the field and the fix."""


@functools.cache
def _recipe_parser_class() -> type:
    from transformers import HfArgumentParser

    class RecipeParser(HfArgumentParser):
        """TRL's HfArgumentParser whose errors are raised as `RecipeError` (the CLI reports them, exit 2)."""

        def error(self, message: str):  # argparse would print and exit
            raise RecipeError(f"{message}; `{self.prog} --help` lists each field's type and choices")

    return RecipeParser


def __getattr__(name: str) -> Any:
    if name == "RecipeParser":  # built on first use: importing transformers takes seconds
        return _recipe_parser_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise RecipeError(f"recipe {path}{where}: not valid YAML ({problem}); write one `field: value` per line "
                          "(lists as [a, b], quote values that contain ': ' or start with special characters)") from None
    except UnicodeDecodeError as err:
        raise RecipeError(f"recipe {path}: not a UTF-8 text file ({err.reason}); save it as UTF-8 YAML") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path}: must be a YAML mapping of field: value")
    return data


def split_argv(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """(the recipe's mapping, the rest of the command line) for `[RECIPE.yaml | --config PATH] [--field value ...]`;
    a bare `--resume` becomes `--resume last`."""
    argv = list(argv)
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
    return recipe, argv


def parse_recipe(argv: list[str], parser: HfArgumentParser) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every field's value, the fields the recipe or the command line set) for `RECIPE.yaml [--field value ...]`.

    The recipe is the first argument (or `--config PATH`); its keys become `--key value` flags parsed
    before the command line's, so the command line wins and both get the same type checks."""
    recipe, argv = split_argv(argv)
    known = {action.dest: action for action in parser._actions if action.dest != "help"}
    options = {option for action in parser._actions for option in action.option_strings}  # incl. --no_*
    try:
        check_names(recipe, argv, list(known), options - {"--help-all"}, parser.prog)
    except OptionError as err:
        raise RecipeError(str(err)) from None
    for key, value in (recipe.pop("env", None) or {}).items():  # TRL's convention: env vars in the recipe
        os.environ[str(key)] = str(value)
    flags: list[str] = []
    for key, value in recipe.items():
        if value is None:
            known[key].default = None  # an explicit null: the field's None, no type conversion
            continue
        flags += _as_flags(key, value)
    namespace, rest = parser.parse_known_args(flags + argv)
    if rest:
        raise RecipeError(f"unexpected arguments {rest}: pass options as --field value")
    values = vars(namespace)
    explicit = {key: values[key] for key in known if key in recipe or any(a.split("=")[0] == f"--{key}" for a in argv)}
    for old, new in RENAMED:  # a default under a deprecated name moves to the current one (no warning)
        if old in values and new in values and old not in explicit and values[new] is None:
            values[new], values[old] = values[old], None
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


def usage(prog: str) -> str:
    return f"{prog} RECIPE.yaml [--field value ...]   (the command line overrides the recipe)"


def parse_or_help(argv: list[str], parser: HfArgumentParser, parse, groups: list[Group] | None = None):
    """The shared start of `gtpo train` / `gtpo sft`: --help / --help-all (exit 0), or `parse(argv)` with bad
    input reported on stderr (exit 2). Returns (parsed, None) or (None, exit status). With `groups` (the
    help sections), help lists them (`gtpo.run.options`) and the command's description is cached for
    the fast path of `gtpo.cli`."""
    description = describe(parser, groups, usage(parser.prog)) if groups else None
    wanted = help_request(argv)
    if wanted:
        if description is None:
            parser.print_help()
            print(f"\nusage: {usage(parser.prog)}")
        else:
            store(description)
            print_text(format_help(description, full=wanted == "all"))
        return None, 0
    try:
        parsed = parse(argv)
    except (RecipeError, ValueError, TypeError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return None, 2
    if description is not None:
        store(description)
    return parsed, None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the step the run had reached (raised by the engine's `execute`)."""

    def __init__(self, step: int, output_dir: Path) -> None:
        super().__init__(step, output_dir)
        self.step, self.output_dir = step, Path(output_dir)


def continue_command(prog: str, argv: list[str]) -> str:
    """The command line that continues the run of `prog argv`: the same with `--resume` (and without
    `--overwrite`, which would start the run again)."""
    kept: list[str] = []
    skip = False
    for at, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg.split("=", 1)[0] == "--overwrite":
            skip = "=" not in arg and at + 1 < len(argv) and argv[at + 1].lower() in ("true", "false", "1", "0")
            continue
        kept.append(arg)
    if not any(arg.split("=", 1)[0] in ("--resume", "--resume_from_checkpoint") for arg in kept):
        kept.append("--resume")
    return shlex.join([*prog.split(), *kept])


def interrupted_message(prog: str, argv: list[str], err: KeyboardInterrupt) -> str:
    """One line for Ctrl-C: the step reached, the checkpoint a resume starts from, the command to continue."""
    from gtpo.run.checkpoints import last_complete_checkpoint

    again = continue_command(prog, argv)
    if not isinstance(err, RunInterrupted):
        return f"{prog}: interrupted before training started; nothing was trained. Start again with: {again}"
    found = last_complete_checkpoint(err.output_dir)
    since = (f"--resume continues from {found} (the steps after it are trained again)" if found is not None
             else "no checkpoint was saved yet, so --resume starts at step 0")  # fmt: skip
    return f"{prog}: interrupted after step {err.step}; {since}. Continue with: {again}"


def check_model(name: str | None, option: str = "model_name_or_path") -> None:
    """`gtpo.run.model_source.check_model_source`, reported as a RecipeError (a bad recipe value)."""
    from gtpo.run.model_source import ModelSourceError, check_model_source

    try:
        check_model_source(name, option)
    except ModelSourceError as err:
        raise RecipeError(str(err)) from None


def check_report_to(report_to: str | list[str] | None) -> None:
    """Every `report_to` integration is one transformers knows and one whose package is installed."""
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        if name in ("none", "all"):
            continue
        if name not in INTEGRATION_TO_CALLBACK:
            raise RecipeError(f"report_to={name!r}: unknown integration; use 'none', 'all' or some of: "
                              f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))}")  # fmt: skip
        if name not in get_available_reporting_integrations():
            raise RecipeError(f"report_to={name!r}: its package is not installed; install it (pip install "
                              f"{name.replace('_', '-')}) or set --report_to none")  # fmt: skip


def run_command(argv: list[str] | None, parser: HfArgumentParser, parse, execute, groups: list[Group] | None = None) -> int:
    """A training command from start to end: `--help`, `parse(argv)`, then `execute(parsed) -> output_dir`.
    Bad input (recipe, output folder, task data) is reported on stderr with exit status 2; a run guard
    that stopped the run, with status 1; Ctrl-C with one line (the step reached and the command that
    continues) and status 130."""
    from gtpo.run.checkpoints import OutputDirError, RunFinished
    from gtpo.run.guards import RunGuardError
    from gtpo.tasks import TaskSourceError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parsed, status = parse_or_help(argv, parser, parse, groups)
        if parsed is None:
            return status
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
    except KeyboardInterrupt as err:
        if int(os.environ.get("RANK", "0")) == 0:
            print(interrupted_message(parser.prog, argv, err), file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{parser.prog}: done; run folder {out}")
    return 0
