"""`gtpo eval`: the command line of `gtpo.eval.runner`, generated from `EvalConfig`.

    gtpo eval --model PATH_OR_ID [PATH_OR_ID ...] --task aime24 [--source PATH] --n 64 \\
        --k 1,8,16,32,64 --temperature T --top_p P --max_new_tokens M --batch_size B --seed S \\
        --output DIR

Prints the markdown table (also in DIR/summary.md); bad options exit with status 2 and a message
that names the option.
"""

from __future__ import annotations

import sys

from transformers import HfArgumentParser

from gtpo.eval.runner import EvalConfig, eval_table, run
from gtpo.tasks import TaskSourceError


def build_parser() -> HfArgumentParser:
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
