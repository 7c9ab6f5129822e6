"""`gtpo eval`: the command line of `gtpo.eval.runner`, generated from `EvalConfig`.

    gtpo eval --model PATH_OR_ID [PATH_OR_ID ...] --task aime24 [--source PATH] --n 64 \\
        --k 1,8,16,32,64 --temperature T --top_p P --max_new_tokens M --batch_size B --seed S \\
        --output DIR

Prints the markdown table (also in DIR/summary.md); bad options exit with status 2 and a message
that names the option. `--help` and an option error are answered before torch is imported (the sampling and scoring
modules load once the options parsed).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from gtpo.eval.config import EvalConfig

if TYPE_CHECKING:
    from transformers import HfArgumentParser


def build_parser() -> HfArgumentParser:
    from transformers import HfArgumentParser

    return HfArgumentParser(
        EvalConfig,
        prog="gtpo eval",
        description="Sample n completions per problem, grade them, and report accuracy, formatting, "
        "pass@k and maj@k. Rerunning with the same --output resumes.",
        allow_abbrev=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        (config,) = parser.parse_args_into_dataclasses(args=args, look_for_args_file=False)
    except ValueError as err:
        print(f"gtpo eval: error: {err}", file=sys.stderr)
        return 2
    from gtpo.eval.runner import eval_table, run  # torch: imported once the options parsed
    from gtpo.tasks import TaskSourceError

    try:
        summary = run(config)
    except (ValueError, OSError, TaskSourceError) as err:
        print(f"gtpo eval: error: {err}", file=sys.stderr)
        return 2
    print(eval_table(summary["results"], config.ks), end="")
    print(f"written to {config.output}/summary.md and summary.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
