"""Group-relative advantages (spec section 1).

Algorithm: the N completions form N / G groups of G consecutive rows (one prompt each);
    A_i = (R_i - mean_j R_j) / (std_j R_j + eps)      scale="group"  (GRPO, the paper's formula)
    A_i =  R_i - mean_j R_j                           scale="none"   (the reference code: std division
                                                                     commented out there)
with mean and std over the G rewards of i's group; std is the sample standard deviation
(Bessel-corrected, as TRL computes it; 0 for G = 1).

Departures from the paper: none in the formula. Precision rule (`constant_groups`): a group whose
rewards are all equal gets A_i = 0 exactly (not a rounding residue of R - mean, which has either sign
when the rewards are not exactly representable, 0.1 x 12 say), so such a group never takes part in
the conflict detection, the `negative_only` filter nor the update. With several reward functions
(rewards (N, K)), "equal" means every function's reward is equal; a row whose rewards are all NaN
(unscorable: no function applied) does not count.
"""

from __future__ import annotations

import torch

from ._checks import check_choice, check_float, check_group_size, check_number, check_tensor

SCALES = ("group", "none")


def constant_groups(
    rewards: torch.Tensor,  # (N,) or (N, K)
    group_size: int,
) -> torch.Tensor:  # (N,) bool
    """True on every row of a group whose scored rows all have the same rewards (see the module docstring).

    Args:
        rewards: (N,) one reward per completion, or (N, K) one per reward function; NaN = not scored.
        group_size: G; rows g*G .. g*G+G-1 are group g.
    """
    if not isinstance(rewards, torch.Tensor) or rewards.dim() not in (1, 2):
        raise ValueError("rewards must be a (N,) or (N, K) torch.Tensor")
    check_float("rewards", rewards)
    g = check_group_size(group_size, rewards.shape[0], "rewards")
    per_func = rewards if rewards.dim() == 2 else rewards.unsqueeze(1)  # (N, K)
    groups = per_func.reshape(-1, g, per_func.shape[1])  # (N/G, G, K)
    scored = ~groups.isnan().all(dim=2)  # (N/G, G)
    filled = groups.nan_to_num(0.0)  # a NaN of one function counts 0, as TRL's weighted nansum does
    first = filled[torch.arange(groups.shape[0], device=rewards.device), scored.int().argmax(dim=1)]  # (N/G, K)
    equal = ((filled == first.unsqueeze(1)).all(dim=2) | ~scored).all(dim=1)  # (N/G,)
    return equal.repeat_interleave(g)  # (N,)


def group_advantages(
    rewards: torch.Tensor,  # (N,)
    group_size: int,
    scale: str = "group",
    eps: float = 1e-4,
) -> torch.Tensor:  # (N,)
    """Group-relative advantages.

    Args:
        rewards: (N,) float, one reward per completion; rows g*G .. g*G+G-1 are group g.
        group_size: G, completions per prompt; must divide N.
        scale: "group" divides by the group's reward std plus `eps`; "none" only subtracts the mean.
        eps: added to the std (>= 0).

    Returns:
        (N,) advantages, same dtype as `rewards`; exactly 0 for every row of a constant-reward group.
    """
    rewards = check_tensor("rewards", rewards, 1)
    check_float("rewards", rewards)
    g = check_group_size(group_size, rewards.shape[0], "rewards")
    check_choice("scale", scale, SCALES)
    eps = check_number("eps", eps, minimum=0.0)
    r = rewards.view(-1, g)  # (N/G, G)
    centred = r - r.mean(dim=1, keepdim=True)  # (N/G, G)
    if scale == "group":
        std = r.std(dim=1, keepdim=True) if g > 1 else torch.zeros_like(r[:, :1])  # (N/G, 1)
        centred = centred / (std + eps)
    constant = constant_groups(rewards, g).view(-1, g)  # (N/G, G)
    return torch.where(constant, torch.zeros_like(centred), centred).reshape(-1)  # (N,)
