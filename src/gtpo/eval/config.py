"""`EvalConfig`: the settings of one evaluation, one typed dataclass from which `gtpo eval`'s
command line is generated (transformers.HfArgumentParser). Each field is documented once, in its
`help`; `__post_init__` checks every value and names the option in its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["EvalConfig"]


@dataclass
class EvalConfig:
    """Settings of `gtpo eval` (the CLI is generated from this class; each field's help is its doc)."""

    model: list[str] = field(
        metadata={
            "help": "checkpoint folder(s) or hub id(s); repeat or list several for one comparison table",
            "action": "extend",
        }
    )
    task: list[str] = field(
        metadata={
            "help": "task name(s): custom (your data: --source, --prompt_field, --answer_field), gsm8k, math, "
            "math500, aime24, aime25, amc23, arith, or a task registered in your own file as "
            "'path/to/file.py:name' (or 'module:name')",
            "action": "extend",
        }
    )
    output: str = field(metadata={"help": "output folder; rerunning with the same folder resumes"})
    source: str | None = field(
        default=None,
        metadata={"help": "local data: a JSONL, JSON, CSV or parquet file or a save_to_disk folder (one task), a "
                  "folder with <task>/<split>.jsonl, or a hub id"},
    )
    prompt_field: str | None = field(
        default=None, metadata={"help": "custom task: the column holding the prompt (unset: 'prompt')"}
    )
    answer_field: str | None = field(
        default=None, metadata={"help": "custom task: the column holding the reference answer (unset: 'answer')"}
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "custom task: a system message before each prompt that has none"}
    )
    grader: str | None = field(
        default=None,
        metadata={"help": "your correctness check, 'path/to/file.py:function' or 'module:function': "
                  "function(completion: str, answer) -> bool or float, a float counting as correct at >= 1.0; "
                  "unset: the paper's rule (full <answer> format and a math-equivalent answer)"},
    )
    extract: str | None = field(
        default=None,
        metadata={"help": "with --grader: function(completion: str) -> str or None, the final answer maj@k votes "
                  "with (None abstains); unset: votes are the completions' whole stripped text"},
    )
    split: str = field(default="test", metadata={"help": "dataset split"})
    task_options: dict | str | None = field(
        default=None,
        metadata={"help": "settings of a generated task as JSON, e.g. arith's '{\"max_operand\": 50, \"max_steps\": 3}' "
                  "(the ArithConfig fields; use the ones the model was trained with)"},
    )
    limit: int | None = field(
        default=None, metadata={"help": "evaluate LIMIT problems (a seeded sample, see gtpo.tasks.load_task)"}
    )
    n: int = field(default=1, metadata={"help": "completions sampled per problem"})
    k: str = field(default="1", metadata={"help": "comma-separated k values for pass@k and maj@k, each <= n"})
    temperature: float = field(default=0.6, metadata={"help": "sampling temperature; 0 = greedy"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass in (0, 1]"})
    max_new_tokens: int = field(default=1024, metadata={"help": "generation budget per completion"})
    batch_size: int = field(default=16, metadata={"help": "completions generated per call (vLLM: use ~1024)"})
    seed: int = field(
        default=0, metadata={"help": "base seed; batch b is sampled with a seed derived from it"}
    )
    backend: Literal["auto", "hf", "vllm"] = field(
        default="auto", metadata={"help": "auto = vllm when installed and a CUDA GPU is present, else hf"}
    )
    name: list[str] | None = field(
        default=None, metadata={"help": "display name per --model (default: the folder name or hub id)"}
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = field(
        default="auto",
        metadata={"help": "weights dtype; auto = bfloat16 on a GPU that supports it, else float32"},
    )
    maj_subsets: int = field(
        default=1000,
        metadata={"help": "random k-subsets per problem for maj@k (exact when C(n,k) <= max(this, n))"},
    )
    grade_timeout: float = field(default=5.0, metadata={"help": "seconds allowed per answer check"})
    answer_tolerance: Literal["strict", "paper"] = field(
        default="strict",
        metadata={"help": "numeric rule of the answer check: strict = equal values only (0.5 = \\frac12, "
                  "0.14 != 0.15); paper = the authors' absolute 1e-2 rule (inflates MATH-style scores); "
                  "recorded in summary.json"},
    )

    def __post_init__(self) -> None:
        from gtpo.tasks.arith import parse_options

        self.task_options = parse_options(self.task_options, "--task_options")
        for key in ("model", "task", "name"):
            value = getattr(self, key)
            if isinstance(value, str):
                setattr(self, key, [value])
        if not self.model or not self.task:
            raise ValueError("give at least one --model and one --task")
        if self.extract is not None and self.grader is None:
            raise ValueError("--extract: only with --grader (the paper's rule extracts the <answer> itself)")
        custom = [name for name in ("prompt_field", "answer_field", "system_prompt") if getattr(self, name) is not None]
        if custom and "custom" not in self.task:
            raise ValueError(f"--{custom[0]}: only the custom task takes it; add --task custom")
        if self.name is not None and len(self.name) != len(self.model):
            raise ValueError(
                f"--name: got {len(self.name)} names for {len(self.model)} models; give one per model"
            )
        if self.source is not None and len(self.task) != 1 and not Path(self.source).is_dir():
            raise ValueError(
                "--source: several tasks need a folder holding <task>/<split>.jsonl, not one file"
            )
        for key, low in (("n", 1), ("max_new_tokens", 1), ("batch_size", 1), ("maj_subsets", 1)):
            if getattr(self, key) < low:
                raise ValueError(f"--{key} must be >= {low}, got {getattr(self, key)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {self.limit}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top_p must be in (0, 1], got {self.top_p}")
        if self.answer_tolerance not in ("strict", "paper"):
            raise ValueError(f"--answer_tolerance must be strict or paper, got {self.answer_tolerance!r}")
        if self.grade_timeout <= 0:
            raise ValueError(f"--grade_timeout must be > 0, got {self.grade_timeout}")
        if isinstance(self.k, int):
            self.k = str(self.k)
        elif not isinstance(self.k, str):
            self.k = ",".join(str(v) for v in self.k)
        bad = [v for v in self.ks if not 1 <= v <= self.n]
        if bad:
            raise ValueError(
                f"--k {self.k}: every k must be in 1..n = {self.n} (bad: {bad}); raise --n or drop them"
            )

    @property
    def ks(self) -> list[int]:
        """The k values, sorted and unique."""
        try:
            return sorted({int(v) for v in str(self.k).replace(" ", "").split(",") if v})
        except ValueError as err:
            raise ValueError(f"--k must be comma-separated integers like 1,8,64; got {self.k!r}") from err

    def options_for(self, task: str) -> dict | None:
        """The options `load_task` gets for `task`: --task_options, plus the custom task's fields."""
        given = {k: getattr(self, k) for k in ("prompt_field", "answer_field", "system_prompt")
                 if getattr(self, k) is not None}  # fmt: skip
        if task != "custom" or not given:
            return self.task_options
        return {**(self.task_options or {}), **given}

    @property
    def names(self) -> list[str]:
        return list(self.name) if self.name else [_default_name(m) for m in self.model]


def _default_name(model: str) -> str:
    path = Path(model)
    return path.name if path.exists() else model
