"""Token entropy, mean completion entropy and the entropy filter delta_i (spec sections 3 and 4).

Algorithm.
- H_{i,t} = -sum_v p(v) log p(v), p = softmax(logits_{i,t}) of the current policy, without gradient.
  Computed over chunks of flattened rows, in float32 per chunk, so the extra memory is at most two
  chunk-sized float32 buffers (by default <= 1/16 of a float32 copy of the logits each, and at most
  2**20 elements), never a full-size copy. Positions whose logits are -inf contribute 0.
- <H>_i = mean of H_{i,t} over the valid tokens of completion i (0 for a row without valid tokens).
- delta_i, threshold tau, initial mean entropy <H>_ini:
    mode="auto" (the paper):  1 if <H>_ini > tau; else 0 if <H>_i > tau; else 1
    mode="always" (the reference code): 0 if <H>_i > tau else 1, whatever <H>_ini
    mode="negative_only" (the paper's OnlyNeg ablation): 0 if <H>_i > tau and A_i < 0 else 1
    mode="off": 1 for every completion.

Departures from the paper: none in "auto". The other modes are explicit options: "always" is the
reference code's behaviour, "negative_only" the paper's ablation (it ignores <H>_ini, as "always"),
"off" disables the filter.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_choice, check_float, check_mask, check_number, check_shape, check_tensor

FILTER_MODES = ("auto", "always", "off", "negative_only")
_MAX_CHUNK_ELEMENTS = 2**20  # float32 elements per chunk buffer (4 MiB: cache-friendly, measured faster)


def token_entropy(
    logits: torch.Tensor,  # (..., V)
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:  # (...) float32
    """Entropy of softmax(logits) over the last dimension, in float32, without gradient.

    Args:
        logits: (..., V) float logits (any float dtype; each chunk is upcast to float32).
        chunk_size: rows (positions of the leading dimensions, flattened) per chunk. None picks
            min(ceil(rows / 16), 2**20 // V), at least 1.

    Returns:
        (...) float32 entropies in nats; detached (computed under torch.no_grad()).
    """
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.dim() < 1:
        raise ValueError("logits must have at least one dimension (the vocabulary), got a 0-d tensor")
    check_float("logits", logits)
    vocab = logits.shape[-1]
    if vocab == 0:
        raise ValueError("logits has an empty vocabulary dimension (size 0 in the last dimension)")
    lead = logits.shape[:-1]
    flat = logits.reshape(-1, vocab)  # (M, V), a view when contiguous
    rows = flat.shape[0]
    if chunk_size is None:
        chunk_size = max(1, min(math.ceil(rows / 16), _MAX_CHUNK_ELEMENTS // vocab))
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int (rows per chunk) or None, got {chunk_size!r}")
    out = torch.empty(rows, dtype=torch.float32, device=logits.device)  # (M,)
    with torch.no_grad():
        for start in range(0, rows, chunk_size):
            logp = torch.log_softmax(flat[start : start + chunk_size].float(), dim=-1)  # (C, V)
            probs = logp.exp()  # (C, V)
            logp.clamp_(min=torch.finfo(torch.float32).min)  # -inf -> finite, so 0 * log 0 = 0
            out[start : start + chunk_size] = -probs.mul_(logp).sum(dim=-1)  # (C,)
    return out.view(lead)  # (...)


def mean_entropy(
    entropy: torch.Tensor,  # (N, T)
    completion_mask: torch.Tensor,  # (N, T)
) -> torch.Tensor:  # (N,)
    """<H>_i: mean of `entropy` over the valid tokens of each row (0 for a row with none); detached."""
    entropy = check_tensor("entropy", entropy, 2)
    check_float("entropy", entropy)
    mask = check_tensor("completion_mask", completion_mask, 2)
    check_shape("completion_mask", mask, tuple(entropy.shape), "entropy")
    valid = check_mask("completion_mask", mask, prefix=False)  # (N, T) bool
    total = torch.where(valid, entropy.detach(), 0.0).sum(dim=1)  # (N,), padding values never read
    return total / valid.sum(dim=1).clamp(min=1).to(entropy.dtype)  # (N,)


def entropy_filter(
    mean_entropy: torch.Tensor,  # (N,)
    threshold: float,
    *,
    initial_entropy: float | torch.Tensor | None = None,
    mode: str = "auto",
    advantages: torch.Tensor | None = None,  # (N,)
) -> torch.Tensor:  # (N,)
    """The filter delta_i in {0, 1} (spec section 4; the modes are in the module docstring).

    Args:
        mean_entropy: (N,) float, <H>_i per completion.
        threshold: tau (the paper: ln 2 ~= 0.6931; the reference code: 0.7).
        initial_entropy: <H>_ini, the policy's mean completion entropy at the start of training;
            required by mode="auto".
        mode: "auto" | "always" | "off" | "negative_only".
        advantages: (N,) float; required by mode="negative_only".

    Returns:
        (N,) float tensor of 0.0 / 1.0, dtype of `mean_entropy`.
    """
    h = check_tensor("mean_entropy", mean_entropy, 1)
    check_float("mean_entropy", h)
    tau = check_number("threshold", threshold)
    check_choice("mode", mode, FILTER_MODES)
    keep = torch.ones_like(h)  # (N,)
    high = h.detach() > tau  # (N,)
    if mode == "off":
        return keep
    if mode == "auto":
        if initial_entropy is None:
            raise ValueError(
                "entropy_filter(mode='auto') needs initial_entropy (<H>_ini, the mean completion entropy "
                "measured on the first batch); pass it, or choose mode='always' (reference code) or 'off'"
            )
        if check_number("initial_entropy", initial_entropy) > tau:
            return keep
        return torch.where(high, torch.zeros_like(h), keep)
    if mode == "always":
        return torch.where(high, torch.zeros_like(h), keep)
    if advantages is None:
        raise ValueError("entropy_filter(mode='negative_only') needs advantages (N,) to find the A_i < 0 rows")
    adv = check_tensor("advantages", advantages, 1)
    check_shape("advantages", adv, tuple(h.shape), "mean_entropy")
    return torch.where(high & (adv < 0), torch.zeros_like(h), keep)
