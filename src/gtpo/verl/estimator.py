"""GTPO as a verl advantage estimator: token advantages A' for verl's stock `vanilla` policy loss.

`gtpo_advantages(token_level_rewards, response_mask, config, index, batch)` (registered as "gtpo"):
1. each completion's reward R_i is the sum of its token-level rewards (verl's outcome convention, as
   its GRPO estimator does); groups are the rows sharing a `uid` (`index`), in any order (verl's
   `_balance_batch` reorders rows before advantages are computed) and of any size (the v1 trainer's
   `pad` rows form a group of their own, filtered or failed rollouts leave groups short);
2. A_i = group-relative advantage (`scale_rewards`: "group" divides by the group's std + 1e-4, the
   epsilon of `gtpo.core.group_advantages` and of TRL, so of the TRL trainer; "none" not), exactly 0
   for a constant group (`gtpo.core.constant_groups`) and for a group of one;
3. A' = `gtpo.core.token_advantages` over the response token ids (`batch["responses"]`) and the
   entropies of the old-log-prob pass (`batch["entropy"]`, verl's v1 trainer; `"gtpo_entropys"` /
   `"entropys"`, the legacy trainer), which on-policy are the current policy's. Conflicts are found on
   the positions up to each row's last valid token; <H>_i (and <H>_ini) average the entropies over the
   response mask itself, so the tool outputs a multi-turn rollout masks inside a response do not count.
   Rows with an empty mask (verl's pad rows) get A' = 0.
Returned as (advantages, returns), both A' (verl's convention for outcome estimators). With the
`vanilla` loss and `loss_agg_mode: seq-mean-token-mean` this is GTPO's objective exactly wherever no
ratio on a negative A' exceeds verl's `clip_ratio_c` (docs/algorithm.md: beyond it verl's dual clip
caps the term, which `gtpo_loss` does not).

Options: `algorithm.gtpo` in the verl config (`+algorithm.gtpo.positive_weight=2.0` on the command
line), the fields of `VerlGTPOOptions`; `gtpo_variant` fills the unset ones as in `GTPOConfig`.
verl's own `algorithm.norm_adv_by_std_in_grpo=false` means `scale_rewards: none` (refused beside an
explicit `scale_rewards: group`).
<H>_ini: `initial_entropy` when given, else the stored value (`STATE`, restored by `gtpo.verl.patch`
when verl resumes from a checkpoint), else measured on this first batch and stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from gtpo.core import VARIANTS, group_advantages, group_index, token_advantages

ENTROPY_KEYS = ("entropy", "gtpo_entropys", "entropys")  # v1 trainer, legacy trainer (kept), legacy (popped)


@dataclass
class VerlGTPOOptions:
    """GTPO's options in verl (`algorithm.gtpo`); the fields mean what GTPOConfig's fields mean."""

    gtpo_variant: str = "paper"
    conflict_scope: str = "prefix_suffix"
    positive_weight: float = 2.0
    negative_weight: float = 0.0
    conflict_max_run: int | None = None
    entropy_gamma: float = 0.1
    entropy_threshold: float | None = None
    entropy_filter: str | None = None
    scale_rewards: str | None = None
    conflict_combine: str | None = None
    normalize_by_conflicts: bool | None = None
    conflict_count: str | None = None
    initial_entropy: float | None = None
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gtpo_variant not in VARIANTS:
            raise ValueError(f"algorithm.gtpo.gtpo_variant={self.gtpo_variant!r}: use one of {', '.join(VARIANTS)}")
        for name, value in VARIANTS[self.gtpo_variant].items():
            given = getattr(self, name)
            if given is None:
                setattr(self, name, value)
            elif given != value:
                self.overrides[name] = given

    @classmethod
    def from_config(cls, config: Any) -> VerlGTPOOptions:
        """From verl's algorithm config (a DictConfig or mapping): its `gtpo` section, unknown keys refused."""
        section = _get(config, "gtpo") or {}
        values = dict(section.items()) if hasattr(section, "items") else {}
        known = {f.name for f in fields(cls)} - {"overrides"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"algorithm.gtpo: unknown key(s) {unknown}; known: {', '.join(sorted(known))}")
        if _get(config, "norm_adv_by_std_in_grpo") is False:
            if values.get("scale_rewards", "none") != "none":
                raise ValueError("algorithm.norm_adv_by_std_in_grpo=false contradicts algorithm.gtpo.scale_rewards="
                                 f"{values['scale_rewards']}: GTPO's setting is algorithm.gtpo.scale_rewards; drop "
                                 "norm_adv_by_std_in_grpo")  # fmt: skip
            values["scale_rewards"] = "none"
        return cls(**values)


@dataclass
class EstimatorState:
    """The estimator's state in the trainer's process: <H>_ini, where to save it, the last metrics."""

    initial_entropy: float | None = None
    path: str | None = None
    metrics: dict = field(default_factory=dict)


STATE = EstimatorState()


def _get(config: Any, key: str) -> Any:
    if config is None:
        return None
    if hasattr(config, "get"):
        return config.get(key)
    return getattr(config, key, None)


def uid_group_ids(index: Any, n: int) -> torch.Tensor:
    """(N,) integer group ids from verl's per-row uid array (any hashable values)."""
    if index is None:
        raise ValueError("the gtpo advantage estimator needs each row's prompt uid (non_tensor_batch['uid']), "
                         "which groups a prompt's completions; verl sets it for every rollout batch")  # fmt: skip
    values = list(index)
    if len(values) != n:
        raise ValueError(f"uid has {len(values)} entries for {n} rows")
    codes: dict[Any, int] = {}
    return torch.tensor([codes.setdefault(v, len(codes)) for v in values], dtype=torch.long)


def grouped_advantages(scores: torch.Tensor, group_ids: torch.Tensor, scale: str) -> torch.Tensor:
    """(N,) A_i for rows in any order and groups of any size: `gtpo.core.group_advantages` (its epsilon,
    its exact 0 for constant groups) over each group; 0 for a group of one."""
    index = group_index(group_ids)  # (B, G_max), -1 after each group's rows
    sizes = (index >= 0).sum(dim=1)  # (B,)
    adv = torch.zeros_like(scores)
    for size in sizes.unique().tolist():
        rows = index[sizes == size, :size].reshape(-1)  # whole groups of this size, group after group
        adv[rows] = group_advantages(scores[rows], size, scale=scale)
    return adv


def gtpo_advantages(
    token_level_rewards: torch.Tensor,  # (N, T)
    response_mask: torch.Tensor,  # (N, T)
    config: Any = None,
    index: Any = None,  # (N,) uid
    batch: Any = None,  # the DataProto's TensorDict
    advantages: torch.Tensor | None = None,  # (N,) A_i given (multi-trajectory sessions, gtpo.verl.patch)
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:  # (N, T), (N, T)
    """verl advantage estimator "gtpo" (module docstring)."""
    if batch is None or "responses" not in batch.keys():
        raise ValueError("the gtpo advantage estimator needs the response token ids (batch['responses']): "
                         "import gtpo.verl before verl computes advantages (the verl.plugins entry point does)")  # fmt: skip
    entropy_key = next((k for k in ENTROPY_KEYS if k in batch.keys()), None)
    if entropy_key is None:
        raise ValueError(f"the gtpo advantage estimator needs token entropies ({' or '.join(ENTROPY_KEYS)}) from "
                         "the old-log-prob pass; with rollout_correction.bypass_mode verl skips that pass: turn it off")  # fmt: skip
    options = VerlGTPOOptions.from_config(config)
    n = token_level_rewards.shape[0]
    mask = response_mask.bool()
    group_ids = uid_group_ids(index, n)
    scores = token_level_rewards.sum(dim=-1).float()  # (N,)
    adv = grouped_advantages(scores, group_ids, options.scale_rewards) if advantages is None else advantages  # (N,)
    entropy = batch[entropy_key].float()
    initial = options.initial_entropy if options.initial_entropy is not None else STATE.initial_entropy
    if initial is None and options.entropy_filter == "auto":
        from gtpo.core import mean_entropy

        per_row = mean_entropy(entropy, mask)  # (N,)
        nonempty = mask.any(dim=1)
        initial = float(per_row[nonempty].mean()) if nonempty.any() else math.nan
        if math.isfinite(initial):
            STATE.initial_entropy = initial
    token_adv, metrics = token_advantages(
        batch["responses"], _left_aligned(mask), adv, entropy, group_ids, scope=options.conflict_scope,
        positive_weight=options.positive_weight, combine=options.conflict_combine, gamma=options.entropy_gamma,
        entropy_threshold=options.entropy_threshold, initial_entropy=initial, filter_mode=options.entropy_filter,
        normalize_by_conflicts=options.normalize_by_conflicts, conflict_count=options.conflict_count,
        negative_weight=options.negative_weight, max_run=options.conflict_max_run, entropy_mask=mask,
    )  # fmt: skip
    STATE.metrics = {f"gtpo/{k}": float(v) for k, v in metrics.items()}
    STATE.metrics["gtpo/initial_entropy"] = float("nan") if initial is None else float(initial)
    token_adv = token_adv.to(token_level_rewards.dtype) * response_mask
    return token_adv, token_adv


def _left_aligned(mask: torch.Tensor) -> torch.Tensor:
    """verl's response_mask is ones then zeros, except that multi-turn rollouts mask tool outputs inside;
    conflicts are found on the token positions up to each row's last valid token (tool outputs included,
    so positions stay aligned across a group); their A' is 0 through the response mask."""
    last = torch.where(mask, torch.arange(mask.shape[1]).unsqueeze(0), -1).amax(dim=1, keepdim=True)  # (N, 1)
    return torch.arange(mask.shape[1]).unsqueeze(0) <= last

