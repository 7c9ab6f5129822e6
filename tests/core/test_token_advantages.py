"""GTPO as token advantages: the stock PPO-clip token loss fed A' equals gtpo_loss, for rows in any order."""

from __future__ import annotations

import random

import pytest
import torch

from gtpo.core import conflict_tensors, group_advantages, gtpo_loss, token_advantages
from gtpo.core.conflict import group_index


def ppo_seq_mean_token_mean(logps, old_logps, token_adv, mask, clip_eps=0.2):
    """A plain PPO-clip token loss (verl's vanilla loss, TRL's grpo aggregation), written independently."""
    old = logps.detach() if old_logps is None else old_logps
    ratio = torch.exp(logps - old)
    per_token = -torch.minimum(ratio * token_adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * token_adv)
    per_seq = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
    return per_seq.mean()


def random_batch(seed):
    rng = random.Random(seed)
    g, t, b = rng.randint(2, 6), rng.randint(1, 9), rng.randint(1, 4)
    n = g * b
    lengths = [rng.randint(0, t) for _ in range(n)]
    ids = torch.tensor([[rng.randrange(3) for _ in range(t)] for _ in range(n)])
    mask = torch.tensor([[1.0 if k < length else 0.0 for k in range(t)] for length in lengths])
    adv = torch.tensor([rng.choice([-1.3, -0.4, 0.0, 0.7, 1.1]) for _ in range(n)])
    gen = torch.Generator().manual_seed(seed)
    logps = torch.randn(n, t, generator=gen) - 2
    entropy = torch.rand(n, t, generator=gen) * 1.5
    return ids, mask, adv, g, logps, entropy


OPTIONS = [
    {},
    {"filter_mode": "always", "entropy_threshold": 0.7},
    {"filter_mode": "negative_only", "gamma": 0.3},
    {"combine": "product", "normalize_by_conflicts": True, "conflict_count": "reference_code"},
    {"scope": "all", "normalize_by_conflicts": True, "positive_weight": 3.0},
]


@pytest.mark.parametrize("off_policy", [False, True])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_ppo_loss_on_shuffled_token_advantages_equals_gtpo_loss(options, off_policy):
    checked = 0
    for seed in range(25):
        ids, mask, adv, g, logps, entropy = random_batch(seed)
        n = ids.shape[0]
        old = logps + 0.3 * torch.randn(logps.shape, generator=torch.Generator().manual_seed(seed)) if off_policy else None
        opts = {"scope": "prefix_suffix", "positive_weight": 2.0, "combine": "union", "gamma": 0.1,
                "entropy_threshold": 0.6931, "filter_mode": "auto", "normalize_by_conflicts": False,
                "conflict_count": "exact", **options}  # fmt: skip
        # gtpo_loss on consecutive groups (the reference path)
        count = opts["conflict_count"] if opts["normalize_by_conflicts"] else None
        weights, conflicts, counts = conflict_tensors(ids, mask, adv, g, scope=opts["scope"],
                                                      positive_weight=opts["positive_weight"],
                                                      combine=opts["combine"], count=count)  # fmt: skip
        lp_ref = logps.clone().requires_grad_(True)
        ref, _ = gtpo_loss(lp_ref, adv, mask, weights, entropy, old_logps=old, gamma=opts["gamma"],
                           entropy_threshold=opts["entropy_threshold"], initial_entropy=0.5,
                           filter_mode=opts["filter_mode"], conflict_mask=conflicts,
                           normalize_by_conflicts=opts["normalize_by_conflicts"], conflict_counts=counts)  # fmt: skip
        ref.backward()
        # token advantages on shuffled rows with group ids, then the stock PPO token loss
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(100 + seed))
        group_ids = (torch.arange(n) // g * 5 + 2)[perm]  # arbitrary ids, rows shuffled
        token_adv, _ = token_advantages(ids[perm], mask[perm], adv[perm], entropy[perm], group_ids,
                                        initial_entropy=0.5, chunk_elements=1 + seed % 5, **opts)  # fmt: skip
        lp = logps[perm].clone().requires_grad_(True)
        got = ppo_seq_mean_token_mean(lp, None if old is None else old[perm], token_adv, mask[perm])
        got.backward()
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(lp.grad, lp_ref.grad[perm], rtol=1e-5, atol=1e-7)
        checked += int(token_adv.abs().sum() > 0)
    assert checked > 10  # most batches have a non-trivial update


def test_hand_example():
    # one group of 3: rows [5, 1, 2] (A = +1), [5, 3, 2] (A = -1), [4, 4] (A = 0); entropy 0 (no shaping)
    # prefix_suffix conflicts: token 5 at t = 0 (forward) and token 2 at the end (backward) in rows 0, 1
    # A'(row 0) = 1 * [2, 1, 2]; A'(row 1) = -1 * [0, 1, 0]; A'(row 2) = 0; rows given in reverse order
    ids = torch.tensor([[4, 4, 0], [5, 3, 2], [5, 1, 2]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 1, 1]])
    adv = torch.tensor([0.0, -1.0, 1.0])
    token_adv, metrics = token_advantages(ids, mask, adv, torch.zeros(3, 3), torch.tensor([7, 7, 7]),
                                          initial_entropy=0.0)  # fmt: skip
    assert token_adv.tolist() == [[0.0, 0.0, 0.0], [-0.0, -1.0, -0.0], [2.0, 1.0, 2.0]]
    assert metrics["conflict_frac_pos"] == pytest.approx(2 / 3) and metrics["conflict_frac_neg"] == pytest.approx(2 / 3)
    # filter 'auto' with <H>_ini = 0 <= tau: a row with <H>_i = 1 > tau is dropped
    entropy = torch.tensor([[0.0] * 3, [1.0] * 3, [0.0] * 3])
    dropped, metrics = token_advantages(ids, mask, adv, entropy, torch.zeros(3, dtype=torch.long),
                                        initial_entropy=0.0, gamma=0.0)  # fmt: skip
    assert dropped[1].abs().sum() == 0 and metrics["filtered_frac"] == pytest.approx(1 / 3)


def test_constant_reward_group_gets_only_the_entropy_shaping():
    # the paper's A'_{i,t} = delta_i * (A_i - gamma * <H>_i) * lambda_{i,t}: a group whose rewards are all
    # equal has A_i = 0, no positive and no negative row, hence no conflicts and lambda = 1 on every valid
    # token, so each token gets -gamma * <H>_i (the code keeps the paper's formula for constant groups)
    rewards = torch.tensor([10.0, 10.0, 10.0])
    adv = group_advantages(rewards, 3)
    assert adv.tolist() == [0.0, 0.0, 0.0]  # exactly 0, not a rounding residue
    # the rows share their first two tokens (they would be conflicts in a mixed group); row 2 is padded
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 9, 8], [5, 6, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
    entropy = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.125, 0.125, 0.125, 0.125], [0.5, 0.0, 3.0, 3.0]])
    # <H>_0 = (0.25 + 0.25 + 0.5 + 0.5) / 4 = 0.375; <H>_1 = 0.125; <H>_2 = (0.5 + 0.0) / 2 = 0.25 (padding
    # ignored); all <= ln 2 and <= <H>_ini = 0.5, so the filter keeps every row (delta = 1)
    # gamma = 0.5: A' = -0.5 * 0.375 = -0.1875, -0.5 * 0.125 = -0.0625, -0.5 * 0.25 = -0.125 on valid tokens
    weights, conflicts, _ = conflict_tensors(ids, mask, adv, 3)
    assert not conflicts.any()
    assert weights.tolist() == [[1.0] * 4, [1.0] * 4, [1.0, 1.0, 0.0, 0.0]]  # no conflict weights
    token_adv, metrics = token_advantages(ids, mask, adv, entropy, torch.zeros(3, dtype=torch.long),
                                          gamma=0.5, initial_entropy=0.5)  # fmt: skip
    assert token_adv.tolist() == [[-0.1875] * 4, [-0.0625] * 4, [-0.125, -0.125, 0.0, 0.0]]
    assert metrics["filtered_frac"] == 0.0
    assert torch.isnan(metrics["conflict_frac_pos"]) and torch.isnan(metrics["conflict_frac_neg"])
    # with the default gamma = 0.1: -0.0375, -0.0125, -0.025
    token_adv, _ = token_advantages(ids, mask, adv, entropy, torch.zeros(3, dtype=torch.long), initial_entropy=0.5)
    expected = torch.tensor([[-0.0375] * 4, [-0.0125] * 4, [-0.025, -0.025, 0.0, 0.0]])
    torch.testing.assert_close(token_adv, expected)
    # gamma = 0 removes the shaping: a constant group then takes no part in the update
    assert token_advantages(ids, mask, adv, entropy, torch.zeros(3, dtype=torch.long), gamma=0.0,
                            initial_entropy=0.5)[0].abs().sum() == 0  # fmt: skip


def test_groups_of_different_sizes_and_ids_in_any_order():
    group_ids = torch.tensor([9, 3, 9, 3, 3, 1])
    assert group_index(group_ids).tolist() == [[5, -1, -1], [1, 3, 4], [0, 2, -1]]
    ids = torch.tensor([[1, 2], [1, 2], [1, 3], [1, 2], [1, 2], [1, 2]])
    mask = torch.ones(6, 2)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0, 1.0])
    token_adv, _ = token_advantages(ids, mask, adv, torch.zeros(6, 2), group_ids, initial_entropy=0.0)
    # group 9 = rows 0 (+) and 2 (-): token 1 at t = 0 shared -> [2, 1] and [0, 1] scaled by A
    # group 3 = rows 1 (+), 3 (-), 4 (0): every token shared -> [2, 2], [0, 0], untouched 0; group 1 alone: [1, 1]
    assert token_adv.tolist() == [[2.0, 1.0], [2.0, 2.0], [-0.0, -1.0], [-0.0, -0.0], [0.0, 0.0], [1.0, 1.0]]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"group_ids": torch.zeros(3)}, "group_ids must hold integers"),
        ({"group_ids": torch.zeros(2, dtype=torch.long)}, "group_ids has shape"),
        ({"entropy": torch.zeros(3, 2)}, "entropy has shape"),
        ({"filter_mode": "sometimes"}, "filter_mode"),
        ({"conflict_count": "true"}, "'exact', 'reference_code'"),
    ],
)
def test_bad_input_names_the_argument(change, match):
    args = {"completion_ids": torch.zeros(3, 3, dtype=torch.long), "completion_mask": torch.ones(3, 3),
            "advantages": torch.zeros(3), "entropy": torch.zeros(3, 3), "group_ids": torch.zeros(3, dtype=torch.long),
            "initial_entropy": 0.0}  # fmt: skip
    with pytest.raises(ValueError, match=match):
        token_advantages(**{**args, **change})


def test_entropy_mask_limits_the_mean_entropy_to_its_tokens():
    # Two completions of one group, A = +1 / -1, 4 valid positions each; the entropy mask drops
    # positions 1-2 of row 0 (a tool output inside a multi-turn response).
    ids = torch.tensor([[5, 6, 7, 8], [1, 2, 3, 4]])
    mask = torch.ones(2, 4)
    entropy_mask = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    adv = torch.tensor([1.0, -1.0])
    entropy = torch.tensor([[0.2, 3.0, 3.0, 0.4], [0.5, 0.5, 0.5, 0.5]])
    kwargs = {"gamma": 0.1, "filter_mode": "always", "entropy_threshold": 1.0, "initial_entropy": 1.0}
    out, metrics = token_advantages(ids, mask, adv, entropy, torch.zeros(2, dtype=torch.long),
                                    entropy_mask=entropy_mask, **kwargs)  # fmt: skip
    # row 0: <H> = (0.2 + 0.4) / 2 = 0.3 <= 1.0 -> kept, A' = 1 - 0.1 * 0.3 = 0.97 on every token (no conflicts);
    # without the entropy mask <H> = 6.6 / 4 = 1.65 > 1.0 would filter the row out.
    torch.testing.assert_close(out[0], torch.full((4,), 0.97))
    assert float(metrics["filtered_frac"]) == 0.0
    plain, _ = token_advantages(ids, mask, adv, entropy, torch.zeros(2, dtype=torch.long), **kwargs)
    assert torch.equal(plain[0], torch.zeros(4))
    # the masked entropies are never read, and a full entropy mask is the default
    changed = entropy.clone()
    changed[0, 1:3] = 100.0
    again, _ = token_advantages(ids, mask, adv, changed, torch.zeros(2, dtype=torch.long),
                                entropy_mask=entropy_mask, **kwargs)  # fmt: skip
    assert torch.equal(again, out)
    full, _ = token_advantages(ids, mask, adv, entropy, torch.zeros(2, dtype=torch.long), entropy_mask=mask, **kwargs)
    assert torch.equal(full, plain)
