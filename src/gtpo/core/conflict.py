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
The conflict set is forward UNION backward. Weights (`combine="union"`, the default): `positive_weight`
on conflict tokens of positive rows, `negative_weight` (0, the paper) on conflict tokens of negative
rows, 1 on every other valid token, 0 on padding. Options beyond the paper, off by default:
`negative_weight` > 0 keeps part of the negative update on shared tokens (1 with positive_weight 1,
gamma 0 and the filter off is GRPO exactly), and `max_run` confines conflicts to each row's first and
last `max_run` tokens, the format frame (the tags and EOS), however long the shared runs are.
`combine="product"` is the reference code's rule: the forward weights times the
backward weights, so a positive token inside both runs weighs positive_weight**2.

Conflict counts (`conflict_counts`, the divisor of the reference code's normalisation): "exact" is the
number of conflict tokens of each row; "reference_code" is what the authors' code counts: the forward
flags OR the backward flags while the backward ones are still in reversed coordinates (s = 0 is the
last token), never mapped back, so a forward conflict at position t and a backward one at s = t count
once, and the count can differ from the number of conflict tokens.

Departures from the paper / reference code (spec "Precise rules"):
- Union of the forward and backward conflicts by default (a token is protected or not); the
  reference code's product is `combine="product"`.
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
COMBINES = ("union", "product")  # conflict_weights(combine=...)
COUNTS = ("exact", "reference_code")  # conflict_counts(count=...)


def _raw_conflicts(
    ids: torch.Tensor,  # (B, G, T) token ids in one alignment
    valid: torch.Tensor,  # (B, G, T) bool
    pos: torch.Tensor,  # (B, G) bool, A > 0
    neg: torch.Tensor,  # (B, G) bool, A < 0
) -> torch.Tensor:  # (B, G, T) bool
    """Raw conflicts in one alignment: token (i, t) matches a valid positive and a valid negative row.
    One pass per group member j (G passes), so the temporaries are (B, G, T), never (B, G, G, T)."""
    has_pos = torch.zeros_like(valid)  # (B, G, T)
    has_neg = torch.zeros_like(valid)  # (B, G, T)
    for j in range(ids.shape[1]):
        same = (ids == ids[:, j : j + 1]) & valid[:, j : j + 1]  # (B, G, T): ids[i, t] == ids[j, t], j valid
        has_pos |= same & pos[:, j, None, None]
        has_neg |= same & neg[:, j, None, None]
    return has_pos & has_neg & valid & (pos | neg).unsqueeze(-1)  # (B, G, T)


def _leading_run(flags: torch.Tensor) -> torch.Tensor:  # (..., T) bool -> (..., T) bool
    """Per row, the maximal run of True starting at position 0."""
    return flags.to(torch.uint8).cumprod(dim=-1).bool()


def check_ids(completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """Check (N, T) integer ids and their left-aligned (N, T) mask; return the mask as bool."""
    ids = check_tensor("completion_ids", completion_ids, 2)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"completion_ids must hold integer token ids, got dtype {ids.dtype}; use .long()")
    mask = check_tensor("completion_mask", completion_mask, 2)
    check_shape("completion_mask", mask, tuple(ids.shape), "completion_ids")
    return check_mask("completion_mask", mask, prefix=True)


def _check_inputs(
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    advantages: torch.Tensor,
    group_size: int,
    scope: str,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    valid = check_ids(completion_ids, completion_mask)
    adv = check_tensor("advantages", advantages, 1)
    check_float("advantages", adv)
    check_shape("advantages", adv, (completion_ids.shape[0],), "completion_ids rows")
    g = check_group_size(group_size, completion_ids.shape[0], "completion_ids")
    check_choice("scope", scope, SCOPES)
    return valid, adv, g


def group_index(group_ids: torch.Tensor) -> torch.Tensor:  # (N,) -> (B, G_max) long
    """The rows of each group: row b lists the row numbers of the group with the b-th smallest id (in
    their order in the batch), padded with -1 to the largest group's size. Rows may come in any order."""
    order = torch.argsort(group_ids, stable=True)  # (N,)
    _, sizes = torch.unique_consecutive(group_ids[order], return_counts=True)  # (B,)
    starts = torch.cumsum(sizes, 0) - sizes  # (B,)
    group = torch.repeat_interleave(torch.arange(len(sizes), device=group_ids.device), sizes)  # (N,)
    member = torch.arange(len(order), device=group_ids.device) - starts[group]  # (N,)
    index = torch.full((len(sizes), int(sizes.max()) if len(sizes) else 0), -1, dtype=torch.long,
                       device=group_ids.device)  # fmt: skip
    index[group, member] = order
    return index


def conflict_chunks(
    completion_ids: torch.Tensor,  # (N, T)
    valid: torch.Tensor,  # (N, T) bool, left-aligned
    advantages: torch.Tensor,  # (N,)
    groups: torch.Tensor,  # (B, G) long row numbers, -1 = no row
    scope: str,
    chunk_elements: int | None = None,
    max_run: int | None = None,
):
    """The conflict search, a chunk of whole groups at a time. Yields (rows, fwd, bwd, bwd_s, valid):
    `rows` (R,) the row numbers of the chunk's real rows, and for each of them (R, T) bool: forward
    conflicts, backward conflicts in forward coordinates, backward conflicts in backward coordinates
    (s = length - 1 - t), valid tokens. A chunk holds at most `chunk_elements` row x position cells
    (default max(2**16, N * T / 128)), so the search's temporaries stay a small fraction of the ids
    tensor whatever N, and its time is G passes over N x T cells. `max_run` keeps only conflicts among
    the first `max_run` tokens (forward) and the last `max_run` tokens (backward) of each row."""
    n, t = completion_ids.shape
    b, g = groups.shape
    if chunk_elements is None:
        chunk_elements = max(2**16, n * t // 128)
    per_chunk = max(1, chunk_elements // max(1, g * t))  # groups per chunk
    steps = torch.arange(t, device=completion_ids.device).unsqueeze(0)  # (1, T)
    for start in range(0, b, per_chunk):
        index = groups[start : start + per_chunk]  # (Bc, G)
        real = (index >= 0).reshape(-1)  # (R,)
        flat = index.reshape(-1).clamp(min=0)  # (R,)
        ids = completion_ids[flat]  # (R, T)
        ok = valid[flat] & real.unsqueeze(1)  # (R, T)
        adv = torch.where(real, advantages[flat], torch.zeros((), dtype=advantages.dtype, device=advantages.device))
        rows_c = index.shape[0]
        if scope == "none" or t == 0:
            none = torch.zeros_like(ok)
            yield index.reshape(-1)[real], none[real], none[real], none[real], ok[real]
            continue
        pos = (adv > 0).view(rows_c, g)  # (Bc, G)
        neg = (adv < 0).view(rows_c, g)  # (Bc, G)
        fwd = _raw_conflicts(ids.view(rows_c, g, t), ok.view(rows_c, g, t), pos, neg).view(-1, t)  # (R, T)
        # backward alignment: s = 0 is each row's last valid token; index = length - 1 - s
        lengths = ok.sum(dim=1, keepdim=True)  # (R, 1)
        back_idx = (lengths - 1 - steps).clamp(min=0)  # (R, T); doubles as the inverse map t -> s
        back_valid = steps < lengths  # (R, T), the first `length` backward positions are valid
        back_ids = ids.gather(1, back_idx)  # (R, T)
        bwd_s = _raw_conflicts(back_ids.view(rows_c, g, t), back_valid.view(rows_c, g, t), pos, neg).view(-1, t)
        if scope == "prefix_suffix":
            fwd = _leading_run(fwd)  # run from the first token
            bwd_s = _leading_run(bwd_s)  # run from the last valid token, in backward coordinates
        bwd_s &= back_valid
        if max_run is not None:  # only the frame: the first and the last max_run tokens
            fwd = fwd & (steps < max_run)
            bwd_s = bwd_s & (steps < max_run)
        bwd = bwd_s.gather(1, back_idx) & ok  # (R, T) back in forward coordinates: s = length - 1 - t
        yield index.reshape(-1)[real], (fwd & ok)[real], bwd[real], bwd_s[real], ok[real]


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
    return conflict_tensors(completion_ids, completion_mask, advantages, group_size, scope=scope)[1]  # (N, T)


def conflict_counts(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    group_size: int,
    *,
    scope: str = "prefix_suffix",
    count: str = "exact",
) -> torch.Tensor:  # (N,) float32
    """Conflict tokens per row, the divisor of `gtpo_loss(normalize_by_conflicts=True)` (before its clamp to 1).

    Same arguments as `conflict_mask`, plus `count`: "exact" (the number of conflict tokens, the row
    sums of `conflict_mask`) or "reference_code" (the authors' count: forward flags OR backward flags
    in backward coordinates, see the module docstring). Example: positive row [1], negative row
    [0, 1, 0, 1]: the negative row's only conflict is its last token (backward s = 0); both counts are
    1. Forward conflict at t = 0 and backward at s = 0 of a 4-token row: exact 2, reference_code 1.
    """
    check_choice("count", count, COUNTS)  # also rejects None, which conflict_tensors reads as "no counts"
    return conflict_tensors(completion_ids, completion_mask, advantages, group_size, scope=scope, count=count)[2]


def _counts(fwd: torch.Tensor, bwd: torch.Tensor, bwd_s: torch.Tensor, count: str) -> torch.Tensor:  # (N,)
    flags = (fwd | bwd) if count == "exact" else (fwd | bwd_s)  # (N, T)
    return flags.sum(dim=1).float()  # (N,)


def conflict_weights(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    group_size: int,
    *,
    scope: str = "prefix_suffix",
    positive_weight: float = 2.0,
    combine: str = "union",
    negative_weight: float = 0.0,
    max_run: int | None = None,
) -> torch.Tensor:  # (N, T) float32
    """GTPO token weights lambda_{i,t} (spec section 2).

    Same arguments as `conflict_mask`, plus `positive_weight` (w >= 0, default 2.0) and `combine`:
    "union" (default: a conflict in either alignment is one conflict) or "product" (the reference
    code: forward weight x backward weight, w**2 on a positive token inside both runs).

    Returns:
        (N, T) float32 (float64 if `advantages` is float64): on positive rows w on conflict tokens
        (w**2 on tokens in both runs with "product"), on negative rows 0 on conflict tokens, 1 on other
        valid tokens (all valid tokens of rows with A_i = 0), 0 on padding.
    """
    return conflict_tensors(
        completion_ids, completion_mask, advantages, group_size, scope=scope, positive_weight=positive_weight,
        combine=combine, negative_weight=negative_weight, max_run=max_run,
    )[0]


def _weights(fwd, bwd, valid, advantages, w: float, combine: str, nw: float = 0.0) -> torch.Tensor:  # (N, T)
    dtype = torch.float64 if advantages.dtype == torch.float64 else torch.float32
    weights = valid.to(dtype)  # (N, T): 1 on valid tokens, 0 on padding
    sign = advantages.unsqueeze(1)  # (N, 1)
    if combine == "union":
        runs = (fwd | bwd).to(dtype)  # (N, T): 1 on a conflict token
    else:
        runs = fwd.to(dtype) + bwd.to(dtype)  # (N, T): in how many of the two runs (0, 1, 2)
    positive = torch.full_like(weights, w).pow(runs)  # (N, T): w ** runs, 1 off the runs
    weights = torch.where((runs > 0) & (sign > 0), positive, weights)
    negative = torch.zeros_like(weights) if nw == 0 else torch.full_like(weights, nw).pow(runs)  # (N, T)
    weights = torch.where((runs > 0) & (sign < 0), negative, weights)
    return weights  # (N, T)


def conflict_tensors(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    group_size: int | None = None,
    *,
    scope: str = "prefix_suffix",
    positive_weight: float = 2.0,
    combine: str = "union",
    count: str | None = None,
    group_ids: torch.Tensor | None = None,  # (N,)
    chunk_elements: int | None = None,
    negative_weight: float = 0.0,
    max_run: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """`conflict_weights`, `conflict_mask` and (when `count` is given) `conflict_counts` from one search
    for conflicts: what a trainer needs per batch. Returns ((N, T) weights, (N, T) bool mask, (N,) counts
    or None), each equal to the function's own result.

    Groups are either consecutive rows of `group_size`, or given by `group_ids` ((N,) integers, rows
    in any order, groups of any size; then `group_size` is None). Extra memory beyond the outputs is
    bounded by the chunked search (`conflict_chunks`, `chunk_elements` cells at a time).
    `negative_weight` (default 0, the paper) is the weight of conflict tokens in negative completions;
    `max_run` (default None: no limit) confines conflicts to each row's first and last `max_run` tokens."""
    w = check_number("positive_weight", positive_weight, minimum=0.0)
    nw = check_number("negative_weight", negative_weight, minimum=0.0)
    max_run = check_max_run(max_run)
    check_choice("combine", combine, COMBINES)
    if count is not None:
        check_choice("count", count, COUNTS)
    if group_ids is None:
        valid, adv, g = _check_inputs(completion_ids, completion_mask, advantages, group_size, scope)
        groups = torch.arange(completion_ids.shape[0], device=completion_ids.device).view(-1, g)  # (N/G, G)
    else:
        if group_size is not None:
            raise ValueError("pass either group_size (consecutive groups) or group_ids (rows in any order), not both")
        valid, adv = _check_grouped(completion_ids, completion_mask, advantages, group_ids, scope)
        groups = group_index(group_ids)  # (B, G_max)
    n, t = completion_ids.shape
    dtype = torch.float64 if adv.dtype == torch.float64 else torch.float32
    weights = torch.zeros(n, t, dtype=dtype, device=completion_ids.device)  # (N, T)
    mask = torch.zeros(n, t, dtype=torch.bool, device=completion_ids.device)  # (N, T)
    counts = None if count is None else torch.zeros(n, dtype=torch.float32, device=completion_ids.device)  # (N,)
    for rows, fwd, bwd, bwd_s, ok in conflict_chunks(completion_ids, valid, adv, groups, scope, chunk_elements,
                                                     max_run):  # fmt: skip
        weights[rows] = _weights(fwd, bwd, ok, adv[rows], w, combine, nw)
        mask[rows] = fwd | bwd
        if counts is not None:
            counts[rows] = _counts(fwd, bwd, bwd_s, count)
    return weights, mask, counts


def check_max_run(max_run: object) -> int | None:
    """`max_run` as a positive int, or None (no limit)."""
    if max_run is None:
        return None
    if isinstance(max_run, bool) or not isinstance(max_run, int) or max_run < 1:
        raise ValueError(f"max_run must be a positive int (tokens at each end) or None, got {max_run!r}")
    return max_run


def _check_grouped(completion_ids, completion_mask, advantages, group_ids, scope) -> tuple[torch.Tensor, torch.Tensor]:
    valid = check_ids(completion_ids, completion_mask)
    adv = check_tensor("advantages", advantages, 1)
    check_float("advantages", adv)
    check_shape("advantages", adv, (completion_ids.shape[0],), "completion_ids rows")
    gid = check_tensor("group_ids", group_ids, 1)
    if gid.is_floating_point() or gid.is_complex() or gid.dtype == torch.bool:
        raise ValueError(f"group_ids must hold integers (one group number per row), got dtype {gid.dtype}")
    check_shape("group_ids", gid, (completion_ids.shape[0],), "completion_ids rows")
    check_choice("scope", scope, SCOPES)
    return valid, adv
