"""The options of `gtpo demo` (`DemoConfig`) and the budgets `--fast` shrinks them to (`FAST`).

Kept apart from `gtpo.demo.pipeline` so that `gtpo.demo.summary`, which the pipeline imports, reads the
options without importing the pipeline back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Fields --fast overrides when they still hold their default value.
FAST = {
    "sft_steps": 40, "sft_batch_size": 16, "sft_problems": 640, "rl_steps": 4, "prompts_per_step": 2, "group_size": 4,
    "logging_steps": 1, "eval_problems": 12, "eval_samples": 2, "max_completion_length": 40,
}  # fmt: skip


@dataclass
class DemoConfig:
    """Options of `gtpo demo` (every one has a default: `gtpo demo` alone runs the full demo)."""

    output_dir: str = field(
        default="runs/demo", metadata={"help": "Folder for the runs, evaluations and report."}
    )
    cache_dir: str = field(
        default="~/.cache/gtpo/demo", metadata={"help": "Cache of the tiny model and warm start."}
    )
    fast: bool = field(
        default=False, metadata={"help": "Tiny budgets everywhere (a smoke test, about a minute)."}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the model, data order and sampling (both algorithms)."}
    )
    threads: int = field(
        default=0,
        metadata={"help": "torch CPU threads (0: torch's default: all cores, or OMP_NUM_THREADS when set). The count "
                  "changes floating-point sums and so the sampled completions: results repeat exactly on the same "
                  "CPU at the same count; demo.json records it as torch_threads."},
    )
    sft_steps: int = field(default=300, metadata={"help": "Warm-start optimizer steps."})
    sft_batch_size: int = field(default=32, metadata={"help": "Warm-start sequences per step."})
    sft_lr: float = field(default=3e-3, metadata={"help": "Warm-start peak learning rate."})
    sft_problems: int = field(
        default=5000, metadata={"help": "Distinct arith train problems for the warm start."}
    )
    rl_steps: int = field(
        default=100, metadata={"help": "GTPO and GRPO optimizer steps (one generation batch each)."}
    )
    prompts_per_step: int = field(default=4, metadata={"help": "Prompts per GTPO/GRPO step."})
    group_size: int = field(default=8, metadata={"help": "Completions per prompt (G)."})
    rl_lr: float = field(default=1e-4, metadata={"help": "GTPO/GRPO learning rate (constant)."})
    max_completion_length: int = field(
        default=48, metadata={"help": "Generation budget per completion (tokens)."}
    )
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature in training and evaluation."}
    )
    logging_steps: int = field(
        default=2, metadata={"help": "Steps between logged metrics (points of the curves)."}
    )
    arith_max_steps: int = field(
        default=2, metadata={"help": "Task difficulty: most operations per arith problem (ArithConfig.max_steps)."}
    )
    arith_max_operand: int = field(
        default=5, metadata={"help": "Task difficulty: largest number in an arith problem (ArithConfig.max_operand)."}
    )
    arith_answer_noise: float = field(
        default=0.3,
        metadata={"help": "Warm-start data: share of demonstrations whose final answer is miscopied (+-1) while "
                  "the equations stay right (ArithConfig.answer_noise); rewards and evaluation use true answers."},
    )
    eval_problems: int = field(default=200, metadata={"help": "Held-out arith problems evaluated."})
    eval_samples: int = field(default=4, metadata={"help": "Completions sampled per held-out problem."})

    def __post_init__(self) -> None:
        if self.fast:
            defaults = {f.name: f.default for f in dataclasses.fields(self)}
            for name, value in FAST.items():
                if getattr(self, name) == defaults[name]:
                    setattr(self, name, value)
        for name in ("sft_steps", "sft_batch_size", "sft_problems", "rl_steps", "prompts_per_step", "eval_problems",
                     "eval_samples", "max_completion_length", "logging_steps"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError(
                f"--group_size must be >= 2 (advantages are group-relative), got {self.group_size}"
            )
        if self.temperature <= 0:
            raise ValueError(f"--temperature must be > 0 (the policy is sampled), got {self.temperature}")
