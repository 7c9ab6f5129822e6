"""Configuration dataclasses of the TRL integration.

`GTPOConfig` is TRL's `GRPOConfig` plus the GTPO fields (docs/spec.md sections 1-6). Everything else
(batching, generation, vLLM, logging, checkpointing) keeps GRPOConfig's meaning. GTPO has its own loss,
so GRPOConfig options that change the GRPO loss (`loss_type`, `beta`, entropy bonus, top-entropy
masking, sequence-level importance sampling, asymmetric clipping) are rejected with an error that
names the field, instead of being silently ignored.

`TaskArguments` is the task section of a `gtpo train` recipe (`TaskSelection`, the part `gtpo sft`
shares, plus the rewards and run guards); the model/PEFT section is TRL's own
`ModelConfig`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from gtpo.rewards.grading import TOLERANCES
from gtpo.tasks.arith import parse_options
from trl import GRPOConfig

CONFLICT_SCOPES = ("prefix_suffix", "all", "none")
CONFLICT_COMBINES = ("union", "product")
CONFLICT_COUNTS = ("true", "reference_code")
ENTROPY_FILTER_MODES = ("auto", "always", "off", "negative_only")
GTPO_SCALE_REWARDS = ("group", "none")
ALGOS = ("gtpo", "grpo")
REWARD_NAMES = ("format", "correctness")
REWARD_TIMEOUT = 120.0  # seconds, default of TaskArguments.reward_timeout
MAX_NONFINITE_STEPS = 3  # default of TaskArguments.max_nonfinite_steps
# gtpo_variant -> the fields it sets (docs/algorithm.md, "Variants"); a field given explicitly wins
VARIANTS: dict[str, dict[str, object]] = {
    "paper": {
        "scale_rewards": "group", "entropy_filter": "auto", "entropy_threshold": math.log(2),
        "conflict_combine": "union", "normalize_by_conflicts": False, "conflict_count": "true",
    },
    "reference_code": {
        "scale_rewards": "none", "entropy_filter": "always", "entropy_threshold": 0.7,
        "conflict_combine": "product", "normalize_by_conflicts": True, "conflict_count": "reference_code",
    },
}  # fmt: skip
CUSTOM_REWARD = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # module:function


@dataclass
class GTPOConfig(GRPOConfig):
    """GRPOConfig plus the GTPO fields; see each field's `help` and docs/training.md."""

    conflict_scope: str = field(
        default="prefix_suffix",
        metadata={
            "help": "Which conflict tokens get the weight: 'prefix_suffix' (reference code: the run of shared "
            "tokens that starts at the first token, and the run that ends at the last valid token) or 'all' (the "
            "paper's wording: every position where a positive and a negative completion of the group hold the "
            "same token, counted from the start or from the end), or 'none' (no conflict tokens, every token "
            "weighs 1: GTPO's entropy parts alone, an ablation).",
            "choices": list(CONFLICT_SCOPES),
        },
    )
    positive_weight: float = field(
        default=2.0,
        metadata={
            "help": "Weight w of conflict tokens in completions with positive advantage (conflict tokens of "
            "negative completions get weight 0, all other tokens 1)."
        },
    )
    entropy_threshold: float | None = field(
        default=None,
        metadata={
            "help": "Entropy filter threshold tau (nats): once the policy is confident, completions whose mean "
            "token entropy exceeds tau are dropped from the update. Unset: from gtpo_variant (paper ln 2 = "
            "0.6931, reference code 0.7)."
        },
    )
    entropy_gamma: float = field(
        default=0.1,
        metadata={"help": "gamma of the entropy-shaped advantage A_i - gamma * <H>_i (0 disables the shaping)."},
    )
    entropy_filter: str | None = field(
        default=None,
        metadata={
            "help": "Entropy filter mode: 'auto' (the paper: filter only if the initial entropy <H>_ini, "
            "measured on the first batch, is <= entropy_threshold), 'always' (reference code), 'off', or "
            "'negative_only' (the paper's OnlyNeg ablation: filter only completions with A_i < 0). Unset: from "
            "gtpo_variant.",
            "choices": list(ENTROPY_FILTER_MODES),
        },
    )
    normalize_by_conflicts: bool | None = field(
        default=None,
        metadata={
            "help": "Reference-code compatibility: also divide each completion's term by its number of conflict "
            "tokens (clamped to >= 1; which count: conflict_count). Not in the paper's formula. Unset: from "
            "gtpo_variant (paper false, reference code true)."
        },
    )
    conflict_combine: str | None = field(
        default=None,
        metadata={
            "help": "How the forward and backward conflicts combine: 'union' (a token is a conflict or not: weight "
            "w) or 'product' (reference code: forward weight x backward weight, w^2 on a positive token inside "
            "both runs). Unset: from gtpo_variant.",
            "choices": list(CONFLICT_COMBINES),
        },
    )
    conflict_count: str | None = field(
        default=None,
        metadata={
            "help": "The count normalize_by_conflicts divides by: 'true' (the completion's conflict tokens) or "
            "'reference_code' (the authors' count, which ORs the forward flags with the backward flags still in "
            "reversed coordinates; differs from the true count in many groups). Unset: from gtpo_variant.",
            "choices": list(CONFLICT_COUNTS),
        },
    )
    gtpo_variant: str = field(
        default="paper",
        metadata={
            "help": "'paper' (the paper's formula) or 'reference_code' (what the authors' code computes: "
            "advantages R - mean, the filter always on at 0.7, forward x backward weights, each completion divided "
            "by the reference code's conflict count). Sets scale_rewards, entropy_filter, entropy_threshold, "
            "conflict_combine, normalize_by_conflicts and conflict_count; a field set explicitly wins and is listed "
            "in run_config.yaml under gtpo_variant.overrides. See docs/algorithm.md, 'Variants'.",
            "choices": list(VARIANTS),
        },
    )
    scale_rewards: str | None = field(
        default=None,
        metadata={
            "help": "Advantage scaling: 'group' (divide R - mean by the group std, the paper) or 'none' "
            "(R - mean, the reference code). Unset: from gtpo_variant.",
        },
    )
    loss_type: str = field(
        default="grpo",
        metadata={
            "help": "Loss aggregation. GTPO normalises each completion by its own length (the paper's 1/|o_i|), "
            "which is TRL's 'grpo'; it is the only value GTPO accepts (the GRPO baselines accept all of TRL's)."
        },
    )

    def __post_init__(self) -> None:
        self._apply_variant()
        try:  # maps scale_rewards True/False, derives the generation batch, checks its divisibility
            super().__post_init__()
        except ValueError as err:
            if "divisible by num_generations" not in str(err):
                raise
            raise ValueError(
                f"{err} Fix: choose per_device_train_batch_size x number of processes x steps_per_generation "
                f"(or generation_batch_size) as a multiple of num_generations={self.num_generations}, so that "
                "every prompt's group of completions is generated whole."
            ) from err
        self._check_gtpo_fields()

    def _apply_variant(self) -> None:
        """Fill the unset variant fields from `gtpo_variant`; record the explicit ones that differ from it."""
        if self.gtpo_variant not in VARIANTS:
            raise ValueError(f"GTPOConfig.gtpo_variant={self.gtpo_variant!r}: unknown variant; use one of "
                             f"{', '.join(VARIANTS)}.")  # fmt: skip
        self.variant_overrides: dict[str, object] = {}
        for name, value in VARIANTS[self.gtpo_variant].items():
            given = getattr(self, name)
            if name == "scale_rewards" and isinstance(given, bool):
                given = "group" if given else "none"  # GRPOConfig's boolean spelling
            if given is None:
                setattr(self, name, value)
            elif given != value:
                self.variant_overrides[name] = given

    def _check_gtpo_fields(self) -> None:
        def bad(name: str, why: str, fix: str) -> ValueError:
            return ValueError(f"GTPOConfig.{name}={getattr(self, name)!r}: {why}; {fix}.")

        if self.conflict_scope not in CONFLICT_SCOPES:
            raise bad("conflict_scope", "unknown scope", f"use one of {', '.join(CONFLICT_SCOPES)}")
        if self.conflict_combine not in CONFLICT_COMBINES:
            raise bad("conflict_combine", "unknown rule", f"use one of {', '.join(CONFLICT_COMBINES)}")
        if self.conflict_count not in CONFLICT_COUNTS:
            raise bad("conflict_count", "unknown count", f"use one of {', '.join(CONFLICT_COUNTS)}")
        if self.entropy_filter not in ENTROPY_FILTER_MODES:
            raise bad("entropy_filter", "unknown mode", f"use one of {', '.join(ENTROPY_FILTER_MODES)}")
        if not (isinstance(self.positive_weight, (int, float)) and math.isfinite(self.positive_weight)):
            raise bad("positive_weight", "must be a finite number", "set e.g. 2.0")
        if self.positive_weight < 0:
            raise bad("positive_weight", "a negative weight reverses the update", "use a value >= 0 (default 2.0)")
        if not math.isfinite(self.entropy_threshold) or self.entropy_threshold <= 0:
            raise bad("entropy_threshold", "must be a positive number of nats", "use e.g. 0.6931 (ln 2)")
        if not math.isfinite(self.entropy_gamma) or self.entropy_gamma < 0:
            raise bad("entropy_gamma", "must be >= 0", "use e.g. 0.1, or 0 to disable the shaping")
        if self.scale_rewards not in GTPO_SCALE_REWARDS:
            raise bad(
                "scale_rewards",
                "GTPO advantages are group-relative",
                "use 'group' (divide by the group std, the paper) or 'none' (reference code)",
            )
        if self.beta != 0.0:
            raise bad(
                "beta",
                "GTPO has no KL term and loads no reference model",
                "set beta=0 (or train the KL baseline with --algo grpo)",
            )
        if self.loss_type != "grpo":
            raise bad(
                "loss_type",
                "GTPO normalises each completion by its own length",
                "leave loss_type at 'grpo' (other aggregations are available to --algo grpo)",
            )
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise bad(
                "multi_objective_aggregation",
                "GTPO needs group-relative advantages of the summed reward",
                "use 'sum_then_normalize'",
            )
        if self.importance_sampling_level != "token":
            raise bad("importance_sampling_level", "GTPO clips per token", "use 'token'")
        if self.epsilon_high is not None and self.epsilon_high != self.epsilon:
            raise bad("epsilon_high", "GTPO's PPO clip is symmetric", "unset epsilon_high and set epsilon")
        if self.delta is not None:
            raise bad("delta", "two-sided clipping is not part of GTPO", "unset delta")
        if self.top_entropy_quantile < 1.0:
            raise bad("top_entropy_quantile", "GTPO has its own entropy filter", "leave it at 1.0")
        if self.entropy_coef != 0.0 or self.use_adaptive_entropy:
            raise bad("entropy_coef", "GTPO shapes the advantage with entropy_gamma instead of an entropy bonus",
                      "leave entropy_coef=0 and use_adaptive_entropy=False")
        if self.off_policy_mask_threshold is not None:
            raise bad("off_policy_mask_threshold", "not part of GTPO", "unset it")


@dataclass
class TaskSelection:
    """The task and run fields that `gtpo train` and `gtpo sft` share: which problems, and resuming."""

    task: str = field(
        default="arith",
        metadata={"help": "Task for gtpo.tasks.load_task: gsm8k, math, arith, ..."},
    )
    task_split: str = field(default="train", metadata={"help": "Split of the task to train on."})
    task_source: str | None = field(
        default=None,
        metadata={"help": "Where the task's data comes from (a local folder/JSONL file or a hub id); None: the "
                  "task's default."},
    )
    task_subjects: list[str] | None = field(
        default=None, metadata={"help": "MATH subjects to keep (None: all)."}
    )
    task_limit: int | None = field(default=None, metadata={"help": "Use at most this many training problems."})
    task_seed: int = field(default=0, metadata={"help": "Seed of the task's sampling/shuffling."})
    task_options: dict | str | None = field(
        default=None,
        metadata={"help": "Settings of a generated task, as a mapping (JSON on the command line): for arith the "
                  "fields of gtpo.tasks.arith.ArithConfig, e.g. {max_steps: 1, max_operand: 5}."},
    )
    resume: str | None = field(
        default=None,
        metadata={"help": "Resume from the last complete checkpoint in output_dir ('last', or a bare --resume; "
                  "starts at step 0 if there is none) or from the checkpoint folder given."},
    )

    def __post_init__(self) -> None:
        self.task_options = parse_options(self.task_options)
        if self.task_limit is not None and self.task_limit < 1:
            raise ValueError(f"task_limit={self.task_limit}: must be >= 1 (or unset for the whole split).")

    def load(self):
        """The selected problems (`gtpo.tasks.load_task`)."""
        from gtpo.tasks import load_task

        return load_task(
            self.task, self.task_split, source=self.task_source, subjects=self.task_subjects,
            limit=self.task_limit, seed=self.task_seed, options=self.task_options,
        )  # fmt: skip


@dataclass
class TaskArguments(TaskSelection):
    """The task and run section of a `gtpo train` recipe."""

    algo: str = field(
        default="gtpo",
        metadata={
            "help": "Training algorithm: 'gtpo' (GTPOTrainer) or 'grpo' (TRL's GRPOTrainer unchanged, the "
            "baseline; beta > 0 adds the KL term to a frozen reference model).",
            "choices": list(ALGOS),
        },
    )
    rewards: list[str] = field(
        default_factory=lambda: list(REWARD_NAMES),
        metadata={
            "help": "Reward functions, summed with GRPOConfig.reward_weights: 'format' (0..10, the paper's "
            "formatting score), 'correctness' (10 if formatted and the answer matches, else 0), or your own as "
            "'module:function' (importable; function(completion) -> float or function(completion, answer) -> float)."
        },
    )
    answer_tolerance: str = field(
        default="strict",
        metadata={"help": "Numeric rule of the 'correctness' reward: 'strict' (equal values only: 0.5 = \\frac12, "
                  "0.14 != 0.15) or 'paper' (the authors' absolute 1e-2 rule, which also equates 0 and 0.0000672); "
                  "see docs/tasks-and-rewards.md."},
    )
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
    conflict_samples: bool = field(
        default=True,
        metadata={"help": "GTPO runs: write one group's tokens and conflict weights per logging step to "
                  "OUTPUT/conflict_samples.jsonl."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.algo not in ALGOS:
            raise ValueError(f"algo={self.algo!r}: unknown algorithm; use one of {', '.join(ALGOS)}.")
        unknown = [name for name in self.rewards if name not in REWARD_NAMES and not CUSTOM_REWARD.match(name)]
        if unknown or not self.rewards:
            raise ValueError(
                f"rewards={self.rewards!r}: unknown or empty; use a non-empty list of {', '.join(REWARD_NAMES)} "
                "or 'module:function' names of your own reward functions."
            )
        if self.answer_tolerance not in TOLERANCES:
            raise ValueError(f"answer_tolerance={self.answer_tolerance!r}: use 'strict' (equal values, the default) "
                             "or 'paper' (the authors' absolute 1e-2 rule).")
        if self.reward_timeout is not None and not self.reward_timeout > 0:
            raise ValueError(f"reward_timeout={self.reward_timeout}: must be > 0 seconds (or null for no deadline).")
        if self.max_nonfinite_steps < 1:
            raise ValueError(f"max_nonfinite_steps={self.max_nonfinite_steps}: must be >= 1 (default {MAX_NONFINITE_STEPS}).")
