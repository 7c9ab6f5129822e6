"""The `gtpo` command: `gtpo train | sft | eval | demo | report | model`.

Each subcommand lives in its own module with a `main(argv) -> int` and is imported only when used,
so `gtpo --help` stays fast and `gtpo report` never imports torch's training stack. The recipe
commands (`RECIPE_COMMANDS`: train, sft) answer `--help`, `--help-all` and an unknown option or recipe
key from their cached option description (`gtpo.run.options`) before their module, and with it torch,
transformers and trl, is imported. A reader that closes the pipe early (`gtpo train --help | head`)
ends the command quietly.
"""

from __future__ import annotations

import importlib
import os
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("gtpo.trl.train", "train a causal LM with GTPO or the GRPO baselines from a YAML recipe"),
    "sft": ("gtpo.trl.sft", "supervised fine-tuning on reference solutions (the warm start and the paper's SFT baseline)"),
    "eval": ("gtpo.eval.cli", "sample, grade and score checkpoints: accuracy, formatting, pass@k, maj@k"),
    "demo": ("gtpo.demo", "offline end-to-end run on CPU: tiny model, SFT warm start, GTPO vs GRPO, report"),
    "report": ("gtpo.report", "plots and a markdown summary from one or more run folders"),
    "model": ("gtpo.models", "write an offline model (tiny, smollm2-135m-instruct) as a Hugging Face folder"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: gtpo COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `gtpo COMMAND --help` for a command's options."]
    return "\n".join(lines)


RECIPE_COMMANDS = ("train", "sft")


def answer_early(prog: str, argv: list[str]) -> int | None:
    """Answer `prog argv` from the cached description when it is help or bad names: the exit status (0 for
    help, 2 for an unknown option or recipe key or a recipe that cannot be read), or None when the command
    has to run (or nothing is cached yet)."""
    from gtpo.run.options import OptionError, check_names, format_help, help_request, load_cached, print_text
    from gtpo.run.recipe import RecipeError, split_argv

    description = load_cached(prog)
    if description is None:
        return None
    wanted = help_request(argv)
    if wanted:
        print_text(format_help(description, full=wanted == "all"))
        return 0
    try:
        recipe, rest = split_argv(argv)
        check_names(recipe, rest, description["fields"], set(description["flags"]), prog)
    except (RecipeError, OptionError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return None


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # the reader went away: nothing more to say, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush then writes nowhere
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a closed pipe


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from gtpo import __version__

        print(f"gtpo {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gtpo: unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if name in RECIPE_COMMANDS:
        status = answer_early(f"gtpo {name}", rest)
        if status is not None:
            return status
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
