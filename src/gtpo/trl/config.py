"""`GTPOConfig`: TRL's `GRPOConfig` plus the GTPO fields (docs/spec.md sections 1-6).

Everything else keeps GRPOConfig's meaning. GTPO is a token-level advantage fed to TRL's own loss, so
the loss options compose with it as TRL documents them: `loss_type` (grpo, the default and the paper's
objective; bnpo, dr_grpo, dapo, cispo, sapo), clip-higher (`epsilon_high`), two-sided clipping
(`delta`), `importance_sampling_level: sequence`, `top_entropy_quantile` and the entropy bonus
(`entropy_coef`, adaptive or not): docs/training.md has the table. Refused, with the field and the
reason: `beta != 0` (GTPO has no KL term), `multi_objective_aggregation: normalize_then_sum` (GTPO's
advantages are of the summed reward), `off_policy_mask_threshold`, `loss_type` vespo and luspo, and
`use_liger_kernel` (their losses take sequence-level advantages). They are refused wherever they are
set: by the constructor, again by `GTPOConfig.check()` (which `GTPOTrainer` calls when it is built and
when `train()` starts, on its config and on the copies TRL's trainer keeps of them), with the same
message (`check_refused`).

The accepted values of each GTPO field and the variants' defaults are `gtpo.core`'s vocabularies
(`SCOPES`, `COMBINES`, `COUNTS`, `FILTER_MODES`, `SCALES`, `VARIANTS`). A variant only fills the
fields left unset; an explicit value wins and is recorded in `variant_overrides` (the trainer reports
it on stderr, `gtpo train` also in run_config.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gtpo.core import COMBINES, COUNTS, FILTER_MODES, SCALES, SCOPES, VARIANTS
from trl import GRPOConfig

TOKEN_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo")  # TRL losses that take (B, T) advantages
RENAMED_VALUES = {"conflict_count": {"true": "exact"}}  # a spelling refused with a pointer to the value's name
# GRPOConfig settings GTPO refuses; TRL's trainer copies each of these but use_liger_kernel onto itself
REFUSED = ("beta", "loss_type", "multi_objective_aggregation", "use_liger_kernel", "off_policy_mask_threshold")


def check_refused(values: Mapping[str, Any]) -> None:
    """Raise ValueError naming the field, the reason and the fix for a refused setting in `values` (name ->
    value; names of `REFUSED` that are absent are not checked)."""
    def bad(name: str, why: str, fix: str) -> ValueError:
        return ValueError(f"GTPOConfig.{name}={values[name]!r}: {why}; {fix}.")

    if "beta" in values and values["beta"] != 0.0:
        raise bad("beta", "GTPO has no KL term and loads no reference model",
                  "set beta=0 (or train the KL baseline with --algo grpo)")  # fmt: skip
    if "loss_type" in values and values["loss_type"] not in TOKEN_LOSS_TYPES:
        raise bad("loss_type", "its loss takes sequence-level advantages, GTPO's are per token",
                  f"use one of {', '.join(TOKEN_LOSS_TYPES)} (grpo is the paper's objective)")
    if values.get("multi_objective_aggregation", "sum_then_normalize") != "sum_then_normalize":
        raise bad("multi_objective_aggregation", "GTPO needs group-relative advantages of the summed reward",
                  "use 'sum_then_normalize'")  # fmt: skip
    if values.get("use_liger_kernel", False):
        raise bad("use_liger_kernel", "Liger's GRPO loss takes sequence-level advantages", "set it to false")
    if values.get("off_policy_mask_threshold") is not None:
        raise bad("off_policy_mask_threshold", "not part of GTPO", "unset it")


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
            "choices": list(SCOPES),
        },
    )
    positive_weight: float = field(
        default=2.0,
        metadata={
            "help": "Weight w of conflict tokens in completions with positive advantage (conflict tokens of "
            "negative completions get weight 0, all other tokens 1)."
        },
    )
    negative_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of conflict tokens in completions with negative advantage. 0 (default, the paper) skips "
            "their negative update; with positive_weight 1, negative_weight 1, entropy_gamma 0 and entropy_filter "
            "off, GTPO is GRPO exactly. A value in (0, 1) keeps part of the negative signal on shared tokens "
            "(docs/training.md, 'Negative updates and collapse')."
        },
    )
    conflict_max_run: int | None = field(
        default=None,
        metadata={
            "help": "Confine conflict tokens to each completion's first and last N tokens (the format frame: tags and "
            "EOS), however long the shared runs are. None (default, the paper): no limit."
        },
    )
    collapse_conflict_share: float = field(
        default=0.5,
        metadata={"help": "Collapse monitor: warn once when the conflict share of positive completions in a logging "
                  "window exceeds this (>= 1 disables)."},
    )
    collapse_entropy_fraction: float = field(
        default=0.25,
        metadata={"help": "Collapse monitor: warn once when the logged token entropy falls below this fraction of "
                  "<H>_ini (0 disables)."},
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
            "choices": list(FILTER_MODES),
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
            "choices": list(COMBINES),
        },
    )
    conflict_count: str | None = field(
        default=None,
        metadata={
            "help": "The count normalize_by_conflicts divides by: 'exact' (the completion's conflict tokens) or "
            "'reference_code' (the authors' count, which ORs the forward flags with the backward flags still in "
            "reversed coordinates; differs from the true count in many groups). Unset: from gtpo_variant.",
            "choices": list(COUNTS),
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
            "help": "TRL's loss over GTPO's token advantages. 'grpo' (default) normalises each completion by its "
            "own length, the paper's 1/|o_i|: GTPO's objective exactly; bnpo, dr_grpo, dapo, cispo and sapo apply "
            "TRL's aggregation or loss to the same token advantages (docs/training.md)."
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

    def check(self) -> None:
        """Check every GTPO field and refused setting again, e.g. after one was changed after construction;
        the same ValueError as the constructor's. `GTPOTrainer` calls it when built and when training starts."""
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

        if self.conflict_scope not in SCOPES:
            raise bad("conflict_scope", "unknown scope", f"use one of {', '.join(SCOPES)}")
        if self.conflict_combine not in COMBINES:
            raise bad("conflict_combine", "unknown rule", f"use one of {', '.join(COMBINES)}")
        for name, renamed in RENAMED_VALUES.items():
            if str(getattr(self, name)).lower() in renamed:
                new = renamed[str(getattr(self, name)).lower()]
                raise bad(name, f"the value is now called {new!r} (the old name read as a YAML boolean)", f"use {new!r}")
        if self.conflict_count not in COUNTS:
            raise bad("conflict_count", "unknown count", f"use one of {', '.join(COUNTS)}")
        if self.entropy_filter not in FILTER_MODES:
            raise bad("entropy_filter", "unknown mode", f"use one of {', '.join(FILTER_MODES)}")
        if not (isinstance(self.positive_weight, (int, float)) and math.isfinite(self.positive_weight)):
            raise bad("positive_weight", "must be a finite number", "set e.g. 2.0")
        if not (isinstance(self.negative_weight, (int, float)) and math.isfinite(self.negative_weight)) \
                or self.negative_weight < 0:  # fmt: skip
            raise bad("negative_weight", "must be a finite number >= 0", "use 0 (the paper) to 1 (GRPO's update)")
        if self.conflict_max_run is not None and self.conflict_max_run < 1:
            raise bad("conflict_max_run", "must be a positive number of tokens", "use e.g. 8, or unset it")
        if self.positive_weight < 0:
            raise bad("positive_weight", "a negative weight reverses the update", "use a value >= 0 (default 2.0)")
        if not math.isfinite(self.entropy_threshold) or self.entropy_threshold <= 0:
            raise bad("entropy_threshold", "must be a positive number of nats", "use e.g. 0.6931 (ln 2)")
        if not math.isfinite(self.entropy_gamma) or self.entropy_gamma < 0:
            raise bad("entropy_gamma", "must be >= 0", "use e.g. 0.1, or 0 to disable the shaping")
        if self.scale_rewards not in SCALES:
            raise bad(
                "scale_rewards",
                "GTPO advantages are group-relative",
                "use 'group' (divide by the group std, the paper) or 'none' (reference code)",
            )
        check_refused({name: getattr(self, name) for name in REFUSED if hasattr(self, name)})
