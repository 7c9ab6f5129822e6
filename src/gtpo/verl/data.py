"""gtpo's tasks and rewards in verl's formats: RL data as parquet, the paper's rewards as verl's score.

- `write_task(task, split, path, ...)`: a `gtpo.tasks` task (any registered one) as verl's RL parquet:
  columns `data_source` (the task name), `prompt` (the paper's chat prompt), `ability` ("math"),
  `reward_model` ({"style": "rule", "ground_truth": the reference answer}) and `extra_info`
  ({"split", "index", "id"}). `python -m gtpo.verl.data TASK --source PATH --out DIR` writes
  DIR/train.parquet and DIR/test.parquet.
- `compute_score(data_source, solution_str, ground_truth, extra_info=None)`: verl's custom reward
  function (`custom_reward_function.path=<this file> custom_reward_function.name=compute_score`):
  the paper's format score plus its correctness score (0..20, `gtpo.rewards`), the same rewards as
  `gtpo train`'s default `rewards: [format, correctness]` with weights 1.

Imports no verl: the data can be written on any machine.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gtpo.rewards import correctness_reward, format_reward


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None) -> float:
    """The paper's reward of one completion: format (0..10) + correctness (0 or 10)."""
    return float(format_reward(solution_str) + correctness_reward(solution_str, str(ground_truth)))


def verl_rows(dataset, task: str, split: str):
    """A `load_task` dataset as verl's RL columns."""
    return dataset.map(
        lambda row, index: {
            "data_source": task,
            "prompt": row["prompt"],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
            "extra_info": {"split": split, "index": index, "id": str(row["id"])},
        },
        with_indices=True,
        remove_columns=dataset.column_names,
    )


def write_task(task: str, split: str, path: str | os.PathLike, *, source: str | None = None, limit: int | None = None,
               seed: int = 0, options: dict | None = None) -> Path:  # fmt: skip
    """Write `task`'s `split` to `path` (parquet) in verl's format; returns the path."""
    from gtpo.tasks import load_task

    dataset = load_task(task, split, source=source, limit=limit, seed=seed, options=options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    verl_rows(dataset, task, split).to_parquet(str(tmp))
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtpo.verl.data", description=__doc__.split("\n")[0])
    parser.add_argument("task", help="a registered gtpo task (gsm8k, math, arith, ...)")
    parser.add_argument("--source", default=None, help="local JSONL file/folder or hub id (the task's default if unset)")
    parser.add_argument("--out", required=True, help="folder for train.parquet and test.parquet")
    parser.add_argument("--splits", nargs="+", default=["train", "test"])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    for split in args.splits:
        print(write_task(args.task, split, Path(args.out) / f"{split}.parquet", source=args.source, limit=args.limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
