"""Conflict tokens and the GTPO token weights lambda_{i,t} (spec section 2).

Algorithm. Within each group of G consecutive rows, completions split by the sign of the advantage:
positive (A_i > 0) and negative (A_i < 0); rows with A_i = 0 take no part. A valid token of a
positive or negative completion is a *raw conflict* in one alignment when the same token id stands
at the same position in at least one valid positive AND at least one valid negative completion of
the group (the row itself counts for its own sign). Two alignments:
- forward: positions counted from the first completion token;
- backward: positions counted back from each row's last valid token (right-aligned; the gather
  index is `length_i - 1 - s` with the per-row length from the mask).
Scope:
- "prefix_suffix" (reference code): per row, only the maximal run of forward raw conflicts starting
  at the first token and the maximal run of backward raw conflicts ending at the last valid token
  (a cumulative product along positions in each alignment);
- "all" (the paper's wording): every raw conflict, forward or backward;
- "none": no conflict tokens (every valid token weighs 1): GTPO's entropy parts alone, an ablation
  of the conflict mechanism (not in the paper).
The conflict set is forward UNION backward. Weights: `positive_weight` on conflict tokens of positive
rows, 0 on conflict tokens of negative rows, 1 on every other valid token, 0 on padding.

Departures from the paper / reference code (spec "Precise rules"):
- Union of the forward and backward conflicts; the reference code multiplies the two weights, which
  gives positive_weight**2 to a positive token inside both runs.
- Only valid tokens (mask = 1, EOS included) match: padding never matches, even when the pad id
  equals the EOS id. Rows with A_i = 0 keep weight 1 and never make other tokens conflicts.
- The reference code counts (position * vocab + token) with torch.bincount: memory O(V * T) per group.
  Here each row is compared with the G rows of its group at the same position: time and memory
  O(N * G * T) booleans, independent of the vocabulary size; no Python loop over rows or positions.
"""

from __future__ import annotations

import torch

from ._checks import (
    check_choice,
    check_float,
    check_group_size,
    check_mask,
    check_number,
    check_shape,
    check_tensor,
)

SCOPES = ("prefix_suffix", "all", "none")


def _raw_conflicts(
    ids: torch.Tensor,  # (B, G, T) token ids in one alignment
    valid: torch.Tensor,  # (B, G, T) bool
    pos: torch.Tensor,  # (B, G) bool, A > 0
    neg: torch.Tensor,  # (B, G) bool, A < 0
) -> torch.Tensor:  # (B, G, T) bool
    """Raw conflicts in one alignment: token (i, t) matches a valid positive and a valid negative row."""
    same = ids.unsqueeze(2) == ids.unsqueeze(1)  # (B, G_i, G_j, T): ids[i, t] == ids[j, t]
    same &= valid.unsqueeze(1)  # j valid at t (i's validity is applied below)
    has_pos = (same & pos[:, None, :, None]).any(dim=2)  # (B, G, T)
    has_neg = (same & neg[:, None, :, None]).any(dim=2)  # (B, G, T)
    return has_pos & has_neg & valid & (pos | neg).unsqueeze(-1)  # (B, G, T)


def _leading_run(flags: torch.Tensor) -> torch.Tensor:  # (..., T) bool -> (..., T) bool
    """Per row, the maximal run of True starting at position 0."""
    return flags.to(torch.uint8).cumprod(dim=-1).bool()


def _check_inputs(
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    advantages: torch.Tensor,
    group_size: int,
    scope: str,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    ids = check_tensor("completion_ids", completion_ids, 2)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"completion_ids must hold integer token ids, got dtype {ids.dtype}; use .long()")
    mask = check_tensor("completion_mask", completion_mask, 2)
    check_shape("completion_mask", mask, tuple(ids.shape), "completion_ids")
    adv = check_tensor("advantages", advantages, 1)
    check_float("advantages", adv)
    check_shape("advantages", adv, (ids.shape[0],), "completion_ids rows")
    g = check_group_size(group_size, ids.shape[0], "completion_ids")
    check_choice("scope", scope, SCOPES)
    return check_mask("completion_mask", mask, prefix=True), adv, g


def conflict_mask(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    group_size: int,
    *,
    scope: str = "prefix_suffix",
) -> torch.Tensor:  # (N, T) bool
    """Conflict tokens (spec section 2): forward UNION backward conflicts within each group.

    Args:
        completion_ids: (N, T) integer token ids, right-padded (any pad id, even the EOS id).
        completion_mask: (N, T) 0/1 or bool; each row ones (valid tokens, EOS included) then zeros.
        advantages: (N,) float; the sign decides positive (> 0) / negative (< 0) / neutral (= 0).
        group_size: G; rows g*G .. g*G+G-1 form group g; must divide N.
        scope: "prefix_suffix" (leading forward run + trailing backward run), "all", or "none"
            (no conflicts: an all-False mask, for ablations).

    Returns:
        (N, T) bool, True at conflict tokens; always False on padding and on rows with A_i = 0.
    """
    valid, adv, g = _check_inputs(completion_ids, completion_mask, advantages, group_size, scope)
    n, t = completion_ids.shape
    if n == 0 or t == 0 or scope == "none":
        return torch.zeros(n, t, dtype=torch.bool, device=completion_ids.device)
    b = n // g
    pos = (adv > 0).view(b, g)  # (B, G)
    neg = (adv < 0).view(b, g)  # (B, G)

    # forward alignment: position t as is
    fwd = _raw_conflicts(completion_ids.view(b, g, t), valid.view(b, g, t), pos, neg).view(n, t)  # (N, T)

    # backward alignment: s = 0 is each row's last valid token; index = length - 1 - s
    lengths = valid.sum(dim=1, keepdim=True)  # (N, 1)
    steps = torch.arange(t, device=completion_ids.device).unsqueeze(0)  # (1, T)
    back_idx = (lengths - 1 - steps).clamp(min=0)  # (N, T); doubles as the inverse map t -> s
    back_valid = steps < lengths  # (N, T), the first `length` backward positions are valid
    back_ids = completion_ids.gather(1, back_idx)  # (N, T)
    bwd = _raw_conflicts(back_ids.view(b, g, t), back_valid.view(b, g, t), pos, neg).view(n, t)  # (N, T) in s

    if scope == "prefix_suffix":
        fwd = _leading_run(fwd)  # run from the first token
        bwd = _leading_run(bwd)  # run from the last valid token, in backward coordinates
    bwd = bwd.gather(1, back_idx) & valid  # (N, T) back in forward coordinates: s = length - 1 - t
    return (fwd | bwd) & valid  # (N, T)


def conflict_weights(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    group_size: int,
    *,
    scope: str = "prefix_suffix",
    positive_weight: float = 2.0,
) -> torch.Tensor:  # (N, T) float32
    """GTPO token weights lambda_{i,t} (spec section 2).

    Same arguments as `conflict_mask`, plus `positive_weight` (w >= 0, default 2.0).

    Returns:
        (N, T) float32 (float64 if `advantages` is float64): w on conflict tokens of positive rows,
        0 on conflict tokens of negative rows, 1 on other valid tokens (all valid tokens of rows
        with A_i = 0), 0 on padding.
    """
    w = check_number("positive_weight", positive_weight, minimum=0.0)
    conflicts = conflict_mask(completion_ids, completion_mask, advantages, group_size, scope=scope)  # (N, T)
    valid = check_mask("completion_mask", completion_mask, prefix=False)  # (N, T)
    dtype = torch.float64 if advantages.dtype == torch.float64 else torch.float32
    weights = valid.to(dtype)  # (N, T): 1 on valid tokens, 0 on padding
    sign = advantages.unsqueeze(1)  # (N, 1)
    weights = torch.where(conflicts & (sign > 0), torch.full_like(weights, w), weights)
    weights = torch.where(conflicts & (sign < 0), torch.zeros_like(weights), weights)
    return weights  # (N, T)
