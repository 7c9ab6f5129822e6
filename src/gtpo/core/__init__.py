"""The GTPO algorithm as pure torch functions (see docs/spec.md and docs/algorithm.md).

Pipeline for one batch of N = (prompts x G) completions, groups as consecutive rows:
    A      = group_advantages(rewards, G)                                  # (N,)
    lambda = conflict_weights(ids, mask, A, G)                             # (N, T)
    H      = token_entropy(logits)                                         # (N, T), no grad
    loss, metrics = gtpo_loss(logps, A, mask, lambda, H, initial_entropy=...)
`grpo_loss` is the GRPO baseline on the same code path. Imports torch only.
"""

from .advantages import group_advantages
from .conflict import conflict_counts, conflict_mask, conflict_tensors, conflict_weights
from .entropy import entropy_filter, mean_entropy, token_entropy
from .loss import grpo_loss, gtpo_loss

__all__ = [
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
