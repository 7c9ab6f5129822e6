"""Group-relative advantages (spec section 1).

Algorithm: the N completions form N / G groups of G consecutive rows (one prompt each);
    A_i = (R_i - mean_j R_j) / (std_j R_j + eps)      scale="group"  (GRPO, the paper's formula)
    A_i =  R_i - mean_j R_j                           scale="none"   (the reference code: std division
                                                                     commented out there)
with mean and std over the G rewards of i's group; std is the sample standard deviation
(Bessel-corrected, as TRL computes it; 0 for G = 1).

Departures from the paper: none in the formula. Precision rule: a group whose rewards are all equal
gets A_i = 0 exactly (not a rounding residue of R - mean), so such a group never takes part in the
conflict detection nor in the update.
"""

from __future__ import annotations

import torch

from ._checks import check_choice, check_float, check_group_size, check_number, check_tensor

SCALES = ("group", "none")


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
    constant = (r == r[:, :1]).all(dim=1, keepdim=True)  # (N/G, 1)
    return torch.where(constant, torch.zeros_like(centred), centred).reshape(-1)  # (N,)
