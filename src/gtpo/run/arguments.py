"""The engine-neutral sections of a training recipe, one dataclass each (the CLI is generated from them).

    TaskArguments       which problems: task name, split, source, subjects, limit, seed, options
    RewardArguments     which rewards (registered names or 'module:function') and the answer rule
    GuardArguments      the run guards: the reward guard and its deadline, failed reward batches and
                        non-finite updates in a row before stopping
    RunArguments        resuming or overwriting the run in output_dir
    AlgorithmArguments  `gtpo train` only: the algorithm (GTPO or the GRPO baseline) and its logging

The engine's own configuration (TRL's GRPOConfig / GTPOConfig / SFTConfig, ModelConfig) sits beside
these in the same flat recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gtpo.rewards import TOLERANCES, reward_names
from gtpo.run.guards import MAX_FAILED_REWARD_STEPS, MAX_NONFINITE_STEPS, REWARD_TIMEOUT
from gtpo.run.plugins import is_spec
from gtpo.tasks import parse_options, task_names

ALGOS = ("gtpo", "grpo")  # gtpo train --algo
CUSTOM_FIELDS = ("prompt_field", "answer_field", "system_prompt")  # TaskArguments fields of the custom task


@dataclass
class TaskArguments:
    """Which problems a run trains on (`gtpo.tasks.load_task`)."""

    task: str = field(
        default="arith",
        metadata={"help": "Task name: 'custom' (your own data: task_source, prompt_field, answer_field), a built-in "
                  "one (gsm8k, math, math500, aime24, aime25, amc23, arith), or a task you register in your own "
                  "file or module, as 'path/to/file.py:name' or 'module:name' (loaded first, then 'name')."},
    )
    task_split: str = field(default="train", metadata={"help": "Split of the task to train on."})
    task_source: str | None = field(
        default=None,
        metadata={"help": "Where the task's data comes from: a JSONL, JSON, CSV or parquet file, a "
                  "datasets.save_to_disk folder, a folder holding <split>.jsonl, or a hub id; None: the task's "
                  "default (the custom task has none)."},
    )
    prompt_field: str | None = field(
        default=None,
        metadata={"help": "Custom task: the column holding the prompt, text or a list of chat messages "
                  "(unset: 'prompt')."},
    )
    answer_field: str | None = field(
        default=None,
        metadata={"help": "Custom task: the column holding the reference answer that rewards receive as `answer` "
                  "(unset: 'answer'). The other columns reach reward functions as keyword arguments."},
    )
    system_prompt: str | None = field(
        default=None,
        metadata={"help": "Custom task: a system message put before each prompt that has none (unset: no "
                  "system message)."},
    )
    task_subjects: list[str] | None = field(
        default=None, metadata={"help": "MATH subjects to keep (None: all)."}
    )
    task_limit: int | None = field(default=None, metadata={"help": "Use at most this many training problems."})
    task_seed: int = field(default=0, metadata={"help": "Seed of the task's sampling/shuffling."})
    task_options: dict | str | None = field(
        default=None,
        metadata={"help": "Settings of a generated task, as a mapping (YAML in a recipe, JSON on the command line): "
                  "for arith the fields of gtpo.tasks.arith.ArithConfig, e.g. '{\"max_steps\": 1, \"max_operand\": 5}'."},
    )

    def __post_init__(self) -> None:
        self.task_options = parse_options(self.task_options)
        given = [name for name in CUSTOM_FIELDS if getattr(self, name) is not None]
        if given and self.task != "custom":
            known = "" if self.task in task_names() or is_spec(self.task) else (
                f"; task {self.task!r} is not a registered task either (choose one of: {', '.join(task_names())})"
            )  # fmt: skip
            raise ValueError(f"{', '.join(given)}: only the custom task takes them (task={self.task!r}); use "
                             f"--task custom, or leave them unset{known}")  # fmt: skip
        if self.task_limit is not None and self.task_limit < 1:
            raise ValueError(f"task_limit={self.task_limit}: must be >= 1 (or unset for the whole split).")

    def options(self) -> dict | None:
        """task_options, with prompt_field / answer_field / system_prompt added where set (custom task)."""
        given = {name: getattr(self, name) for name in CUSTOM_FIELDS if getattr(self, name) is not None}
        return {**(self.task_options or {}), **given} if given else self.task_options

    def load(self):
        """The selected problems (`gtpo.tasks.load_task`; a 'file.py:name' task is loaded first). A task that
        is not registered, a data source for a generated task, or a selection the task refuses is a
        `RecipeError` naming the field."""
        from gtpo.run.plugins import task_name
        from gtpo.run.recipe import RecipeError
        from gtpo.tasks import get_task, load_task

        try:
            name = task_name(self.task)
        except ValueError as err:
            raise RecipeError(str(err)) from None
        if get_task(name).generate is not None and self.task_source is not None:
            which = " (the default task)" if self.task == TaskArguments.task else ""
            raise RecipeError(f"task_source={self.task_source!r}: task {self.task!r}{which} generates its problems "
                              "and reads no data; set --task to the task of your data (e.g. gsm8k, math or custom), "
                              "or remove task_source")  # fmt: skip
        try:
            return load_task(
                name, self.task_split, source=self.task_source, subjects=self.task_subjects,
                limit=self.task_limit, seed=self.task_seed, options=self.options(),
            )  # fmt: skip
        except ValueError as err:
            raise RecipeError(f"task: {err}") from None


@dataclass
class RewardArguments:
    """Which rewards a run sums (weights: the engine's `reward_weights`)."""

    rewards: list[str] = field(
        default_factory=lambda: ["format", "correctness"],
        metadata={
            "help": "Reward functions, summed with reward_weights: registered names ('format': the paper's 0..10 "
            "formatting score; 'correctness': 10 if formatted and the answer matches, else 0; any added with "
            "gtpo.rewards.register_reward), or your own as 'path/to/file.py:function' (no PYTHONPATH needed) or "
            "'module:function' (importable): function(completion) -> float, function(completion, answer) -> "
            "float, or TRL's function(completions, **columns) -> list[float]."
        },
    )
    answer_tolerance: str = field(
        default="strict",
        metadata={"help": "Numeric rule of the 'correctness' reward: 'strict' (equal values only: 0.5 = \\frac12, "
                  "0.14 != 0.15) or 'paper' (the authors' absolute 1e-2 rule, which also equates 0 and 0.0000672); "
                  "see docs/tasks-and-rewards.md."},
    )

    def __post_init__(self) -> None:
        known = reward_names()
        unknown = [name for name in self.rewards if name not in known and not is_spec(name)]
        if unknown or not self.rewards:
            raise ValueError(
                f"rewards={self.rewards!r}: unknown or empty; use a non-empty list of registered rewards "
                f"({', '.join(known)}) or your own functions as 'path/to/file.py:function' or 'module:function'."
            )
        if self.answer_tolerance not in TOLERANCES:
            raise ValueError(f"answer_tolerance={self.answer_tolerance!r}: use 'strict' (equal values, the default) "
                             "or 'paper' (the authors' absolute 1e-2 rule).")


@dataclass
class GuardArguments:
    """The run guards (docs/guards.md)."""

    reward_timeout: float | None = field(
        default=REWARD_TIMEOUT,
        metadata={"help": "Deadline in seconds of one reward-function call on a batch; a call past it scores its "
                  "completions 0 (counted in reward_errors). null: no deadline."},
    )
    max_nonfinite_steps: int = field(
        default=MAX_NONFINITE_STEPS,
        metadata={"help": "Updates with a NaN/inf loss or gradient are skipped (never applied); after this many in "
                  "a row the run saves a checkpoint of the last finite parameters and stops."},
    )

    max_failed_reward_steps: int = field(
        default=MAX_FAILED_REWARD_STEPS,
        metadata={"help": "Stop the run (exit 1, naming the function and its error) when a reward function failed "
                  "(raised, timed out or returned no finite number) on every completion of this many generation "
                  "batches in a row (one batch per optimizer step with TRL's defaults): the run cannot learn from it."},
    )
    reward_guard: bool = field(
        default=True,
        metadata={"help": "Run reward functions under the guard (deadline, failures score 0 and are counted, the "
                  "stops above). false (YAML: off; --no_reward_guard): TRL gets the functions untouched; an "
                  "exception stops the run, reward_timeout and max_failed_reward_steps do not apply and "
                  "reward_errors is not logged."},
    )

    def __post_init__(self) -> None:
        if self.max_failed_reward_steps < 1:
            raise ValueError(f"max_failed_reward_steps={self.max_failed_reward_steps}: must be >= 1 "
                             f"(default {MAX_FAILED_REWARD_STEPS}).")  # fmt: skip
        if self.reward_timeout is not None and not self.reward_timeout > 0:
            raise ValueError(f"reward_timeout={self.reward_timeout}: must be > 0 seconds (or null for no deadline).")
        if self.max_nonfinite_steps < 1:
            raise ValueError(f"max_nonfinite_steps={self.max_nonfinite_steps}: must be >= 1 "
                             f"(default {MAX_NONFINITE_STEPS}).")  # fmt: skip


@dataclass
class RunArguments:
    """Resuming or overwriting the run in output_dir (`gtpo train` and `gtpo sft`; `gtpo.run.folder`)."""

    resume: str | None = field(
        default=None,
        metadata={"help": "Resume from the last complete checkpoint in output_dir ('last', or a bare --resume; "
                  "starts at step 0 if there is none) or from the checkpoint folder given. A run that reached its "
                  "max_steps trains nothing (exit 0); fields a resumed run cannot change are refused "
                  "(docs/guards.md, 'Run folders')."},
    )
    overwrite: bool = field(
        default=False,
        metadata={"help": "output_dir holds a run: delete its files (checkpoints, logs, run_config.yaml, the final "
                  "model) and start again. Without --resume or --overwrite, a folder holding a run is refused."},
    )


@dataclass
class AlgorithmArguments:
    """`gtpo train`: which algorithm trains, and what it logs besides the metrics."""

    algo: str = field(
        default="gtpo",
        metadata={
            "help": "Training algorithm: 'gtpo' (GTPOTrainer) or 'grpo' (TRL's GRPOTrainer unchanged, the "
            "baseline; beta > 0 adds the KL term to a frozen reference model).",
            "choices": list(ALGOS),
        },
    )
    conflict_samples: bool = field(
        default=True,
        metadata={"help": "GTPO runs: write one group's tokens and conflict weights per logging step to "
                  "OUTPUT/conflict_samples.jsonl."},
    )

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo={self.algo!r}: unknown algorithm; use one of {', '.join(ALGOS)}.")
