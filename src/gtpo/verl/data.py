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


def verl_rows(dataset, task: str, split: str):
    """A `load_task` dataset as verl's RL columns; the task's other columns go into `extra_info`."""
    others = [name for name in dataset.column_names if name not in ("prompt", "answer", "id")]
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


def write_rows(dataset, task: str, split: str, path: str | os.PathLike) -> Path:
    """Write a `load_task` dataset to `path` (parquet, atomically) in verl's format; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    verl_rows(dataset, task, split).to_parquet(str(tmp))
    os.replace(tmp, path)
    return path


def write_task(task: str, split: str, path: str | os.PathLike, *, source: str | None = None, limit: int | None = None,
               seed: int = 0, options: dict | None = None) -> Path:  # fmt: skip
    """Write `task`'s `split` to `path` (parquet) in verl's format; returns the path."""
    from gtpo.tasks import load_task

    dataset = load_task(task, split, source=source, limit=limit, seed=seed, options=options)
    return write_rows(dataset, task, split, path)


def main(argv: list[str] | None = None) -> int:
    """`python -m gtpo.verl.data TASK --out DIR [task fields]`; a bad selection is one line, exit 2."""
    from gtpo.run.arguments import TaskArguments
    from gtpo.tasks import TaskSourceError

    parser = argparse.ArgumentParser(prog="python -m gtpo.verl.data", description=__doc__.split("\n")[0])
    parser.add_argument("task", help="custom (your own data), a built-in task (gsm8k, math, arith, ...) or "
                        "'path/to/file.py:name'")  # fmt: skip
    parser.add_argument("--out", required=True, help="folder for one <split>.parquet per split")
    parser.add_argument("--splits", nargs="+", default=["train", "test"])
    for name in ("task_source", "prompt_field", "answer_field", "system_prompt", "task_options", "task_limit",
                 "task_seed"):  # fmt: skip
        spec = TaskArguments.__dataclass_fields__[name]
        kind = int if name in ("task_limit", "task_seed") else str
        parser.add_argument(f"--{name}", type=kind, default=spec.default, help=spec.metadata["help"])
    parser.add_argument("--task_subjects", nargs="+", default=None,
                        help=TaskArguments.__dataclass_fields__["task_subjects"].metadata["help"])  # fmt: skip
    parser.add_argument("--source", dest="task_source", default=argparse.SUPPRESS, help="the same as --task_source")
    parser.add_argument("--limit", dest="task_limit", type=int, default=argparse.SUPPRESS, help="the same as --task_limit")
    args = vars(parser.parse_args(argv))
    out, splits = Path(args.pop("out")), args.pop("splits")
    try:
        selected = [TaskArguments(**args, task_split=split) for split in splits]
        datasets = [(arguments.task_split, arguments.load()) for arguments in selected]
    except (ValueError, OSError, TaskSourceError) as err:  # the message names the field and the fix
        print(f"python -m gtpo.verl.data: error: {err}", file=sys.stderr)
        return 2
    source = args["task_source"]
    if source is not None and Path(source).expanduser().is_file() and len(splits) > 1:
        print(f"python -m gtpo.verl.data: note: one file holds no splits; {', '.join(splits)} all hold the rows "
              f"of {source} (give a folder with <split>.jsonl files, or one --splits per file)", file=sys.stderr)  # fmt: skip
    name = args["task"].rsplit(":", 1)[-1]
    for split, dataset in datasets:
        print(write_rows(dataset, name, split, out / f"{split}.parquet"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
