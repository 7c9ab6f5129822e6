"""gtpo's tasks and rewards in verl's formats: RL data as parquet, the paper's rewards as verl's score.

- `write_task(task, split, path, ...)`: a `gtpo.tasks` task (any registered one) as verl's RL parquet:
  columns `data_source` (the task name), `prompt` (the paper's chat prompt), `ability` ("math"),
  `reward_model` ({"style": "rule", "ground_truth": the reference answer}) and `extra_info`
  ({"split", "index", "id"} and every other column of the task's examples: a `custom` task's own columns
  reach verl's reward function through `extra_info`). `python -m gtpo.verl.data TASK --source PATH --out
  DIR` writes DIR/train.parquet and DIR/test.parquet; the task is selected as `gtpo train` selects it
  (`gtpo.run.arguments.TaskArguments`: `--task_source`, `--prompt_field`, `--answer_field`,
  `--system_prompt`, `--task_options`, `--task_subjects`, `--task_limit`, `--task_seed`), so
  `python -m gtpo.verl.data custom --task_source data.jsonl --prompt_field question --answer_field
  target --out DIR` writes your own data.
- `compute_score(data_source, solution_str, ground_truth, extra_info=None)`: verl's custom reward
  function (`custom_reward_function.path=<this file> custom_reward_function.name=compute_score`):
  the paper's format score plus its correctness score (0..20, `gtpo.rewards`), the same rewards as
  `gtpo train`'s default `rewards: [format, correctness]` with weights 1.

Imports no verl: the data can be written on any machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gtpo.rewards import correctness_reward, format_reward


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None) -> float:
    """The paper's reward of one completion: format (0..10) + correctness (0 or 10)."""
    return float(format_reward(solution_str) + correctness_reward(solution_str, str(ground_truth)))


PROG = "python -m gtpo.verl.data"
RESERVED_INFO = ("split", "index", "id")  # extra_info keys this module sets


def verl_rows(dataset, task: str, split: str):
    """A `load_task` dataset as verl's RL columns; the task's other columns go into `extra_info` (a column named
    like one of its own keys, `RESERVED_INFO`, is a ValueError naming it)."""
    others = [name for name in dataset.column_names if name not in ("prompt", "answer", "id")]
    clash = [name for name in others if name in RESERVED_INFO]
    if clash:
        raise ValueError(f"column {clash[0]!r} of your data would replace extra_info[{clash[0]!r}], which verl reads; "
                         "rename that column")  # fmt: skip
    return dataset.map(
        lambda row, index: {
            "data_source": task,
            "prompt": row["prompt"],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
            "extra_info": {"split": split, "index": index, "id": str(row["id"]), **{n: row[n] for n in others}},
        },
        with_indices=True,
        remove_columns=dataset.column_names,
    )


def write_parquet(table, path: str | os.PathLike) -> Path:
    """Write a dataset to `path` as parquet, atomically (a temporary file, then a rename); returns the path."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_parquet(str(tmp))
    os.replace(tmp, path)
    return path


def write_task(task: str, split: str, path: str | os.PathLike, *, source: str | None = None, limit: int | None = None,
               seed: int = 0, options: dict | None = None) -> Path:  # fmt: skip
    """Write `task`'s `split` to `path` (parquet) in verl's format; returns the path."""
    from gtpo.tasks import load_task

    dataset = load_task(task, split, source=source, limit=limit, seed=seed, options=options)
    return write_parquet(verl_rows(dataset, task, split), path)


def same_rows(datasets: list[tuple[str, object]]) -> list[str]:
    """The splits whose rows are the first split's (the same prompts and answers in the same order): a source
    without splits."""

    def rows(dataset) -> tuple[list, list]:
        return dataset["prompt"], dataset["answer"]

    first = rows(datasets[0][1])
    return [split for split, dataset in datasets[1:] if rows(dataset) == first]


def main(argv: list[str] | None = None) -> int:
    """`python -m gtpo.verl.data TASK --out DIR [task fields]`; a bad selection is one line, exit 2."""
    import datasets as hf_datasets

    from gtpo.run.arguments import TaskArguments
    from gtpo.tasks import TaskSourceError

    fields = TaskArguments.__dataclass_fields__
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("task", nargs="?", help="custom (your own data), a built-in task (gsm8k, math, arith, ...) "
                        "or 'path/to/file.py:name'; or give it as --task")  # fmt: skip
    parser.add_argument("--task", dest="task_option", metavar="TASK", help="the same as the first argument")
    parser.add_argument("--out", required=True, help="folder for one <split>.parquet per split")
    parser.add_argument("--splits", nargs="+", default=["train", "test"], help="the splits to write (default: train "
                        "test); a source that holds one split takes --splits train")  # fmt: skip
    for name in ("task_source", "prompt_field", "answer_field", "system_prompt", "task_options", "task_limit",
                 "task_seed"):  # fmt: skip
        kind = int if name in ("task_limit", "task_seed") else str
        parser.add_argument(f"--{name}", type=kind, default=fields[name].default, help=fields[name].metadata["help"])
    parser.add_argument("--task_subjects", nargs="+", default=None, help=fields["task_subjects"].metadata["help"])
    parser.add_argument("--source", dest="task_source", default=argparse.SUPPRESS, help="the same as --task_source")
    parser.add_argument("--limit", dest="task_limit", type=int, default=argparse.SUPPRESS, help="the same as --task_limit")
    args = vars(parser.parse_args(argv))
    task, task_option = args.pop("task"), args.pop("task_option")
    if (task is None) == (task_option is None):
        parser.error("give the task once: as the first argument or as --task")
    args["task"] = task or task_option
    out, splits = Path(args.pop("out")).expanduser(), args.pop("splits")
    hf_datasets.disable_progress_bars()
    try:
        selected = [TaskArguments(**args, task_split=split) for split in splits]
        datasets = [(arguments.task_split, arguments.load()) for arguments in selected]
        name = args["task"].rsplit(":", 1)[-1]
        rows = [(split, verl_rows(dataset, name, split)) for split, dataset in datasets]
    except (ValueError, OSError, TaskSourceError) as err:  # the message names the field and the fix
        hint = "; choose the splits with --splits" if "split" in str(err) and "--splits" not in str(err) else ""
        print(f"{PROG}: error: {err}{hint}", file=sys.stderr)
        return 2
    if len(datasets) > 1 and (copies := same_rows(datasets)):
        print(f"{PROG}: note: {args['task_source'] or args['task']} holds no separate splits: {', '.join(copies)} "
              f"hold the same rows as {datasets[0][0]} (give a folder with <split>.jsonl files, or --splits "
              f"{datasets[0][0]})", file=sys.stderr)  # fmt: skip
    for split, table in rows:
        try:
            print(write_parquet(table, out / f"{split}.parquet"))
        except OSError as err:
            print(f"{PROG}: error: --out {out}: cannot write {split}.parquet ({err.strerror or err}); choose a folder "
                  "you can write to", file=sys.stderr)  # fmt: skip
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
