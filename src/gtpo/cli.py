"""The `gtpo` command: `gtpo train | sft | eval | demo | report | model`.

Each subcommand lives in its own module with a `main(argv) -> int` and is imported only when used,
so `gtpo --help` stays fast and `gtpo report` never imports torch's training stack.
"""

from __future__ import annotations

import importlib
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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
