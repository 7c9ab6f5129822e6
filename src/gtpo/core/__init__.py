"""The GTPO algorithm as pure torch functions (see docs/spec.md and docs/algorithm.md).

Pipeline for one batch of N = (prompts x G) completions, groups as consecutive rows (or, for rows in
any order, `token_advantages(ids, mask, A, H, group_ids)`: A' for any engine's stock PPO token loss):
    A      = group_advantages(rewards, G)                                  # (N,)
    lambda = conflict_weights(ids, mask, A, G)                             # (N, T)
    H      = token_entropy(logits)                                         # (N, T), no grad
    loss, metrics = gtpo_loss(logps, A, mask, lambda, H, initial_entropy=...)
`grpo_loss` is the GRPO objective written the same way (lambda = 1, no shaping or filter, optional
k3 KL): a reference for engines and tests. `gtpo train --algo grpo` trains with TRL's own GRPOTrainer,
unchanged, so the baseline is exactly what TRL users run.

Vocabularies (each option's accepted values, defined once here and used by every engine):
`SCALES`, `SCOPES`, `COMBINES`, `COUNTS`, `FILTER_MODES`, and the variants' defaults `VARIANTS`.
Imports torch only.
"""

from .advantages import SCALES, constant_groups, group_advantages
from .conflict import (
    COMBINES,
    COUNTS,
    SCOPES,
    conflict_counts,
    conflict_mask,
    conflict_tensors,
    conflict_weights,
    group_index,
)
from .entropy import FILTER_MODES, entropy_filter, mean_entropy, token_entropy
from .loss import grpo_loss, gtpo_loss
from .token_advantages import shaped_token_advantages, token_advantages
from .variants import PAPER_THRESHOLD, VARIANT_FIELDS, VARIANTS, variant_defaults

__all__ = [
    "COMBINES",
    "COUNTS",
    "FILTER_MODES",
    "PAPER_THRESHOLD",
    "SCALES",
    "SCOPES",
    "VARIANTS",
    "VARIANT_FIELDS",
    "constant_groups",
    "group_index",
    "shaped_token_advantages",
    "token_advantages",
    "variant_defaults",
    "conflict_counts",
    "conflict_mask",
    "conflict_tensors",
    "conflict_weights",
    "entropy_filter",
    "group_advantages",
    "grpo_loss",
    "gtpo_loss",
    "mean_entropy",
    "token_entropy",
]
