"""GTPO as token-level advantages: the one definition of the GTPO objective (spec sections 2-6).

Algorithm. For completion i with advantage A_i, valid tokens t (|o_i| of them), conflict weights
lambda_{i,t} >= 0, mean entropy <H>_i, filter delta_i in {0, 1} and, for the reference code's
normalisation, its conflict count c_i >= 1 (else c_i = 1):
    A'_{i,t} = delta_i * (A_i - gamma * <H>_i) * lambda_{i,t} / c_i         (0 on padding)
Why this is GTPO: GTPO's per-token term is lambda_{i,t} / c_i * min(r * a_i, clip(r) * a_i) with
a_i = delta_i * (A_i - gamma * <H>_i). A factor k >= 0 commutes with min and clip and keeps the sign
of a_i, so that equals min(r * A', clip(r) * A'): the stock PPO-clip token loss fed A'. Aggregated as
"mean over each completion's tokens, then mean over completions" (TRL's `loss_type: grpo`, verl's
`loss_agg_mode: seq-mean-token-mean`), it is GTPO's loss exactly, on- and off-policy.

- `shaped_token_advantages(advantages, mask, weights, entropy, ...)`: A' from given weights (an engine
  that finds conflicts elsewhere, as the TRL trainer does on its gathered batch); `gtpo_loss` is built
  on it.
- `token_advantages(ids, mask, advantages, entropy, group_ids, ...)`: the whole of it, conflict search
  included, for rows in any order (`group_ids`), a chunk of whole groups at a time, so the extra memory
  stays below the ids tensor's size at any batch size (`conflict_chunks`).

<H>_i is the entropy of the policy being trained; on-policy it equals the sampling policy's, so an
engine may pass the entropies of its rollout or old-log-prob pass.
"""

from __future__ import annotations

import torch

from ._checks import check_choice, check_float, check_number, check_shape, check_tensor
from .conflict import (
    COMBINES,
    COUNTS,
    _check_grouped,
    _counts,
    _weights,
    check_max_run,
    conflict_chunks,
    group_index,
)
from .entropy import FILTER_MODES, entropy_filter, mean_entropy
from .variants import PAPER_THRESHOLD

_SUM_KEYS = ("conflict_tokens_pos", "valid_tokens_pos", "conflict_tokens_neg", "valid_tokens_neg", "filtered",
             "rows", "entropy_rows", "completion_entropy_sum", "token_entropy_sum", "valid_tokens",
             "shaped_sum")  # fmt: skip


def shaped_token_advantages(
    advantages: torch.Tensor,  # (N,)
    valid: torch.Tensor,  # (N, T) bool
    weights: torch.Tensor,  # (N, T) lambda, 0 on padding
    entropy: torch.Tensor,  # (N, T)
    *,
    gamma: float,
    entropy_threshold: float,
    initial_entropy: float | torch.Tensor | None,
    filter_mode: str,
    divisor: torch.Tensor | None = None,  # (N,) c_i >= 1, or None
    entropy_valid: torch.Tensor | None = None,  # (N, T) bool, the tokens <H>_i averages (default: valid)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A' (N, T) (module docstring) and its parts (N,): <H>_i, delta_i, A_i - gamma * <H>_i. Inputs are
    checked by the public callers; entropy and advantages are used detached."""
    adv = advantages.detach()
    h = mean_entropy(entropy, valid if entropy_valid is None else entropy_valid)  # (N,) <H>_i, detached
    delta = entropy_filter(h, entropy_threshold, initial_entropy=initial_entropy, mode=filter_mode, advantages=adv)
    shaped = adv - gamma * h.to(adv.dtype)  # (N,) A_i - gamma * <H>_i
    coef = (delta * shaped).unsqueeze(1)  # (N, 1)
    if divisor is not None:
        coef = coef / divisor.to(coef.dtype).unsqueeze(1)
    token_adv = torch.where(valid, coef * weights.detach().to(coef.dtype), 0.0)  # (N, T)
    return token_adv, h, delta, shaped


def metric_sums(
    advantages: torch.Tensor,  # (N,)
    valid: torch.Tensor,  # (N, T) bool
    conflicts: torch.Tensor,  # (N, T) bool
    entropy: torch.Tensor,  # (N, T)
    h: torch.Tensor,  # (N,)
    delta: torch.Tensor,  # (N,)
    shaped: torch.Tensor,  # (N,)
) -> dict[str, torch.Tensor]:
    """Additive counts behind the metrics of one batch (or chunk): sum them over chunks, then `finish`."""
    pos_rows = (advantages > 0).unsqueeze(1) & valid  # (N, T)
    neg_rows = (advantages < 0).unsqueeze(1) & valid  # (N, T)
    nonempty = valid.any(dim=1)  # (N,)
    values = (
        (conflicts & pos_rows).sum(), pos_rows.sum(), (conflicts & neg_rows).sum(), neg_rows.sum(),
        (delta == 0).sum(), torch.tensor(delta.shape[0]), nonempty.sum(), torch.where(nonempty, h, 0.0).sum(),
        torch.where(valid, entropy.detach().float(), 0.0).sum(), valid.sum(), shaped.float().sum(),
    )  # fmt: skip
    return {key: value.detach().double() for key, value in zip(_SUM_KEYS, values, strict=True)}


def finish(sums: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The metrics from summed counts: detached float32 0-d tensors (see `gtpo_loss` for each)."""

    def ratio(num: str, den: str, empty: float) -> torch.Tensor:
        d = sums[den]
        return torch.where(d > 0, sums[num] / d.clamp(min=1), torch.tensor(empty, dtype=d.dtype)).float()

    return {
        "conflict_frac_pos": ratio("conflict_tokens_pos", "valid_tokens_pos", float("nan")),
        "conflict_frac_neg": ratio("conflict_tokens_neg", "valid_tokens_neg", float("nan")),
        **{key: sums[key].float() for key in _SUM_KEYS[:4]},
        "filtered_frac": ratio("filtered", "rows", 0.0),
        "completion_entropy": ratio("completion_entropy_sum", "entropy_rows", 0.0),
        "token_entropy": ratio("token_entropy_sum", "valid_tokens", 0.0),
        "shaped_advantage": ratio("shaped_sum", "rows", 0.0),
    }


def token_advantages(
    completion_ids: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    entropy: torch.Tensor,  # (N, T)
    group_ids: torch.Tensor,  # (N,)
    *,
    scope: str = "prefix_suffix",
    positive_weight: float = 2.0,
    combine: str = "union",
    gamma: float = 0.1,
    entropy_threshold: float = PAPER_THRESHOLD,
    initial_entropy: float | torch.Tensor | None = None,
    filter_mode: str = "auto",
    normalize_by_conflicts: bool = False,
    conflict_count: str = "exact",
    negative_weight: float = 0.0,
    max_run: int | None = None,
    chunk_elements: int | None = None,
    entropy_mask: torch.Tensor | None = None,  # (N, T)
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # (N, T), metrics
    """GTPO's token advantages A' for a batch whose rows may come in any order.

    Args:
        completion_ids: (N, T) integer token ids, right-padded (any pad id).
        completion_mask: (N, T) 0/1 or bool; each row ones (valid tokens, EOS included) then zeros.
        advantages: (N,) float group-relative advantages A_i (e.g. `group_advantages`).
        entropy: (N, T) float token entropies H_{i,t} of the policy (detached here).
        group_ids: (N,) integer group of each row (one prompt's completions share it); any order, any
            group sizes.
        scope, positive_weight, combine: the conflict weights (`conflict_weights`).
        gamma, entropy_threshold, initial_entropy, filter_mode: the shaping and the filter (`gtpo_loss`).
        normalize_by_conflicts, conflict_count: the reference code's division by each completion's
            conflict count ("exact" or "reference_code", clamped to >= 1).
        negative_weight, max_run: beyond the paper, off by default (`conflict_tensors`): the weight of
            negative completions' conflict tokens (0), and a cap confining conflicts to each row's first
            and last `max_run` tokens (None).
        chunk_elements: row x position cells per chunk of the search (default `conflict_chunks`').
        entropy_mask: (N, T) 0/1 or bool, the tokens <H>_i averages over, within `completion_mask`
            (default: all valid tokens). A multi-turn engine passes the model's own tokens here, so the
            tool outputs inside a response (valid positions for the conflict search) do not count.

    Returns:
        (A' (N, T) float32 (float64 for float64 advantages), 0 on padding; metrics: detached float32
        0-d tensors "conflict_frac_pos"/"_neg" and their counts, "filtered_frac", "completion_entropy",
        "token_entropy", "shaped_advantage", as `gtpo_loss` reports them).
    """
    valid, adv = _check_grouped(completion_ids, completion_mask, advantages, group_ids, scope)
    ent = check_tensor("entropy", entropy, 2)
    check_float("entropy", ent)
    check_shape("entropy", ent, tuple(completion_ids.shape), "completion_ids")
    w = check_number("positive_weight", positive_weight, minimum=0.0)
    nw = check_number("negative_weight", negative_weight, minimum=0.0)
    max_run = check_max_run(max_run)
    gamma = check_number("gamma", gamma)
    check_choice("filter_mode", filter_mode, FILTER_MODES)
    check_choice("count", conflict_count, COUNTS)
    check_choice("combine", combine, COMBINES)
    if entropy_mask is not None:
        entropy_mask = check_tensor("entropy_mask", entropy_mask, 2)
        check_shape("entropy_mask", entropy_mask, tuple(completion_ids.shape), "completion_ids")
        entropy_mask = entropy_mask.bool() & valid  # (N, T)
    dtype = torch.float64 if adv.dtype == torch.float64 else torch.float32
    out = torch.zeros(completion_ids.shape, dtype=dtype, device=completion_ids.device)  # (N, T)
    sums: dict[str, torch.Tensor] = {}
    groups = group_index(group_ids)  # (B, G_max)
    for rows, fwd, bwd, bwd_s, ok in conflict_chunks(completion_ids, valid, adv, groups, scope, chunk_elements,
                                                     max_run):  # fmt: skip
        a = adv[rows]  # (R,)
        weights = _weights(fwd, bwd, ok, a, w, combine, nw)  # (R, T)
        divisor = _counts(fwd, bwd, bwd_s, conflict_count).clamp(min=1) if normalize_by_conflicts else None
        h_ent = ent[rows]  # (R, T)
        h_ok = None if entropy_mask is None else entropy_mask[rows] & ok  # (R, T)
        token_adv, h, delta, shaped = shaped_token_advantages(
            a, ok, weights, h_ent, gamma=gamma, entropy_threshold=entropy_threshold,
            initial_entropy=initial_entropy, filter_mode=filter_mode, divisor=divisor, entropy_valid=h_ok,
        )  # fmt: skip
        out[rows] = token_adv.to(dtype)
        for key, value in metric_sums(a, ok, fwd | bwd, h_ent, h, delta, shaped).items():
            sums[key] = sums[key] + value if key in sums else value
    if not sums:
        sums = {key: torch.zeros((), dtype=torch.float64) for key in _SUM_KEYS}
    return out, finish(sums)

