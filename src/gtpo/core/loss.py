"""The GTPO loss and the GRPO objective as one PPO-clip token loss over token advantages (spec 5, 6).

Algorithm. Both losses are the same policy objective over token advantages A'_{i,t}:
    r_{i,t} = exp(logp_{i,t} - old_{i,t})               (old = logp.detach() when old_logps is None:
                                                         r = 1 with the gradient of logp)
    J_i = 1/|o_i| * sum_t min(r * A', clip(r, 1 - eps, 1 + eps) * A')   (just r * A' on-policy)
    loss = -mean_i J_i                                  (mean over all completions = mean over groups
                                                         of (1/G) sum_i, groups being equal-sized)
GTPO: A' = delta_i * (A_i - gamma * <H>_i) * lambda_{i,t} [/ c_i] (`gtpo.core.token_advantages`, where
the argument that this is GTPO's objective is written out). GRPO: A' = A_i on every valid token, and
when beta > 0 minus beta * KL_{i,t} per token, KL = exp(ref - logp) - (ref - logp) - 1 (the k3
estimator, as TRL). `grpo_loss` is a reference for engines and tests: `gtpo train --algo grpo` trains
with TRL's own GRPOTrainer.

Departures from the paper:
- The PPO clip for off-policy updates is an extension (the paper runs one update per batch, r = 1).
- A completion without valid tokens contributes 0 (|o_i| is clamped to 1), never NaN.
- normalize_by_conflicts=True reproduces a reference-code quirk, off by default: each completion's
  term is further divided by its number of conflict tokens c_i (clamped to >= 1). It needs
  conflict_mask; `conflict_counts` gives another count per completion (the reference code's).
- Padding values of logps / old_logps / ref_logps / entropy are never read (masked before use), so
  garbage there cannot produce NaN values or gradients.
"""

from __future__ import annotations

import torch

from ._checks import check_choice, check_float, check_mask, check_number, check_shape, check_tensor
from .entropy import FILTER_MODES
from .token_advantages import finish, metric_sums, shaped_token_advantages
from .variants import PAPER_THRESHOLD


def _token_input(name: str, value: object, shape: tuple[int, ...]) -> torch.Tensor:
    tensor = check_tensor(name, value, 2)
    check_float(name, tensor)
    check_shape(name, tensor, shape, "logps")
    return tensor


def _common_inputs(
    logps: torch.Tensor, advantages: torch.Tensor, completion_mask: torch.Tensor, clip_eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    logps = check_tensor("logps", logps, 2)
    check_float("logps", logps)
    if logps.shape[0] == 0:
        raise ValueError("logps has no rows: pass at least one completion")
    adv = check_tensor("advantages", advantages, 1)
    check_float("advantages", adv)
    check_shape("advantages", adv, (logps.shape[0],), "logps rows")
    mask = check_tensor("completion_mask", completion_mask, 2)
    check_shape("completion_mask", mask, tuple(logps.shape), "logps")
    check_number("clip_eps", clip_eps, minimum=0.0, strict=True)
    return check_mask("completion_mask", mask, prefix=False), adv.detach()


def _policy_objective(
    logps: torch.Tensor,  # (N, T)
    old_logps: torch.Tensor | None,  # (N, T)
    token_advantages: torch.Tensor,  # (N, T) A', detached, 0 on padding
    valid: torch.Tensor,  # (N, T) bool
    clip_eps: float,
    lengths: torch.Tensor,  # (N,) |o_i| clamped to >= 1
    penalty: torch.Tensor | None = None,  # (N, T) per-token term subtracted (beta * KL), or None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The PPO-clip token loss, mean over each completion's tokens then over completions. Returns (loss
    0-d, per-completion objective (N,), clipped (N, T) bool). Computed in float32 at least (bfloat16
    log-probs are upcast; the gradient flows through the cast)."""
    dtype = torch.promote_types(logps.dtype, torch.float32)
    logps = logps.to(dtype)
    old = logps.detach() if old_logps is None else old_logps.detach().to(dtype)
    log_ratio = torch.where(valid, logps - old, 0.0)  # (N, T); padding masked before exp
    ratio = torch.exp(log_ratio)  # (N, T); 1 on-policy, gradient of logp
    a = token_advantages.to(ratio.dtype)  # (N, T)
    if old_logps is None:
        per_token = ratio * a  # (N, T)
        clipped = torch.zeros_like(valid)
    else:
        unclipped = ratio * a  # (N, T)
        clipped_term = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * a  # (N, T)
        per_token = torch.minimum(unclipped, clipped_term)  # (N, T)
        clipped = (clipped_term < unclipped) & valid  # (N, T): the clipped branch is active
    if penalty is not None:
        per_token = per_token - penalty.to(dtype)
    per_token = torch.where(valid, per_token, 0.0)  # (N, T)
    per_completion = per_token.sum(dim=1) / lengths.to(dtype)  # (N,)
    return -per_completion.mean(), per_completion, clipped


def _fraction(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator.sum() / denominator.sum() as a detached float32 0-d tensor (0 when empty)."""
    den = denominator.sum().float()
    return (numerator.sum().float() / den.clamp(min=1)).detach()


def gtpo_loss(
    logps: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    completion_mask: torch.Tensor,  # (N, T)
    weights: torch.Tensor,  # (N, T)
    entropy: torch.Tensor,  # (N, T)
    *,
    old_logps: torch.Tensor | None = None,  # (N, T)
    gamma: float = 0.1,
    entropy_threshold: float = PAPER_THRESHOLD,
    initial_entropy: float | torch.Tensor | None = None,
    filter_mode: str = "auto",
    clip_eps: float = 0.2,
    conflict_mask: torch.Tensor | None = None,  # (N, T) bool
    normalize_by_conflicts: bool = False,
    conflict_counts: torch.Tensor | None = None,  # (N,)
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GTPO loss, -J_GTPO (spec section 6; the algorithm is in the module docstring).

    Args:
        logps: (N, T) log pi_theta of the sampled tokens, with gradient.
        advantages: (N,) group-relative advantages A_i (detached here).
        completion_mask: (N, T) 0/1 or bool, 1 on valid completion tokens.
        weights: (N, T) lambda_{i,t} from `conflict_weights` (0 on padding).
        entropy: (N, T) token entropies H_{i,t} from `token_entropy` (detached here).
        old_logps: (N, T) log pi_old for off-policy updates (PPO clip); None = on-policy.
        gamma: entropy-shaping coefficient in Ahat_i = A_i - gamma * <H>_i.
        entropy_threshold: tau of the filter; initial_entropy: <H>_ini (needed by filter_mode="auto").
        filter_mode: "auto" | "always" | "off" | "negative_only" (see `entropy_filter`).
        clip_eps: PPO clip range (used only with old_logps).
        conflict_mask: (N, T) bool from `conflict_mask`; if None, the conflict metrics use
            weights != 1 on valid tokens (exact unless positive_weight == 1).
        normalize_by_conflicts: reference-code quirk (needs conflict_mask), off by default.
        conflict_counts: (N,) the divisor of normalize_by_conflicts per completion (from
            `conflict_counts`, e.g. the reference code's count); None: the row sums of conflict_mask.

    Returns:
        (loss 0-d with gradient, metrics) where metrics holds detached float32 0-d tensors:
        "conflict_frac_pos"/"conflict_frac_neg" (conflict tokens / valid tokens over the rows with
        A > 0 / A < 0; NaN when the batch has no such row), the counts behind them
        "conflict_tokens_pos"/"valid_tokens_pos" and "conflict_tokens_neg"/"valid_tokens_neg" (sum
        these over batches and divide for the share over several batches), "filtered_frac"
        (completions with delta_i = 0 / N), "completion_entropy" (mean of <H>_i over the completions
        with valid tokens: the quantity to store as <H>_ini on the first batch), "token_entropy" (mean
        H_{i,t} over all valid tokens, the statistic TRL logs as "entropy"), "shaped_advantage" (mean
        Ahat_i), "clip_frac" (valid tokens whose clipped branch is active).
    """
    valid, adv = _common_inputs(logps, advantages, completion_mask, clip_eps)
    shape = tuple(logps.shape)
    weights = _token_input("weights", weights, shape)
    entropy = _token_input("entropy", entropy, shape)
    if old_logps is not None:
        old_logps = _token_input("old_logps", old_logps, shape)
    gamma = check_number("gamma", gamma)
    check_choice("filter_mode", filter_mode, FILTER_MODES)
    if conflict_mask is not None:
        conflict_mask = check_mask("conflict_mask", check_tensor("conflict_mask", conflict_mask, 2), prefix=False)
        check_shape("conflict_mask", conflict_mask, shape, "logps")
        conflicts = conflict_mask & valid  # (N, T)
    elif normalize_by_conflicts:
        raise ValueError("normalize_by_conflicts=True needs conflict_mask (from gtpo.core.conflict_mask)")
    else:
        conflicts = valid & (weights.detach() != 1)  # (N, T)

    lengths = valid.sum(dim=1).clamp(min=1)  # (N,) |o_i|
    divisor = None
    if normalize_by_conflicts:
        if conflict_counts is None:
            counts = conflicts.sum(dim=1)  # (N,)
        else:
            counts = check_tensor("conflict_counts", conflict_counts, 1)
            check_shape("conflict_counts", counts, (shape[0],), "logps rows")
        divisor = counts.detach().float().clamp(min=1)  # (N,) c_i
    token_adv, h, delta, shaped = shaped_token_advantages(
        adv, valid, weights, entropy, gamma=gamma, entropy_threshold=entropy_threshold,
        initial_entropy=initial_entropy, filter_mode=filter_mode, divisor=divisor,
    )  # fmt: skip
    loss, _, clipped = _policy_objective(logps, old_logps, token_adv, valid, clip_eps, lengths)
    metrics = finish(metric_sums(adv, valid, conflicts, entropy, h, delta, shaped))
    metrics["clip_frac"] = _fraction(clipped, valid)
    return loss, metrics


def grpo_loss(
    logps: torch.Tensor,  # (N, T)
    advantages: torch.Tensor,  # (N,)
    completion_mask: torch.Tensor,  # (N, T)
    *,
    old_logps: torch.Tensor | None = None,  # (N, T)
    ref_logps: torch.Tensor | None = None,  # (N, T)
    beta: float = 0.0,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The GRPO objective on GTPO's code path (A' = A_i, no conflict weights, shaping or filter).

    Args:
        logps, advantages, completion_mask, old_logps, clip_eps: as in `gtpo_loss`.
        ref_logps: (N, T) log pi_ref of the sampled tokens (frozen reference); required when beta > 0.
        beta: KL coefficient (>= 0); the per-token k3 estimate times beta is subtracted from the
            token objective before the per-completion mean.

    Returns:
        (loss 0-d, metrics): "clip_frac", and "kl" (mean over completions of the per-completion
        token-mean KL) when beta > 0; detached float32 0-d tensors.
    """
    valid, adv = _common_inputs(logps, advantages, completion_mask, clip_eps)
    shape = tuple(logps.shape)
    if old_logps is not None:
        old_logps = _token_input("old_logps", old_logps, shape)
    beta = check_number("beta", beta, minimum=0.0)
    lengths = valid.sum(dim=1).clamp(min=1)  # (N,) |o_i|
    penalty = None
    kl = None
    if beta > 0:
        if ref_logps is None:
            raise ValueError("grpo_loss(beta > 0) needs ref_logps (log-probs of the frozen reference model)")
        ref_logps = _token_input("ref_logps", ref_logps, shape)
        dtype = torch.promote_types(logps.dtype, torch.float32)
        diff = torch.where(valid, ref_logps.detach().to(dtype) - logps.to(dtype), 0.0)  # (N, T)
        kl = torch.exp(diff) - diff - 1.0  # (N, T), k3 estimator, >= 0
        penalty = beta * kl
    token_adv = torch.where(valid, adv.unsqueeze(1), 0.0)  # (N, T) A' = A_i on every valid token
    loss, _, clipped = _policy_objective(logps, old_logps, token_adv, valid, clip_eps, lengths, penalty)
    metrics = {"clip_frac": _fraction(clipped, valid)}
    if kl is not None:
        metrics["kl"] = (torch.where(valid, kl, 0.0).sum(dim=1) / lengths).float().mean().detach()
    return loss, metrics
