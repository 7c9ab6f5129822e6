"""gtpo.verl on the batches verl really builds: groups of different sizes (v1's `pad` rows, filtered
groups), multi-turn responses with masked tool outputs, multi-trajectory sessions; verl's
`norm_adv_by_std_in_grpo`; and where verl's vanilla loss (its dual clip) stops equalling `gtpo_loss`."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

verl = pytest.importorskip("verl")  # runs in .venv-verl (`make test-verl`); skipped elsewhere
from omegaconf import OmegaConf  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402

import gtpo.verl  # noqa: E402,F401
from gtpo.core import conflict_tensors, group_advantages, gtpo_loss, token_advantages  # noqa: E402
from gtpo.verl import patch  # noqa: E402
from gtpo.verl.estimator import VerlGTPOOptions  # noqa: E402
from verl import DataProto  # noqa: E402

T = 8
ACTOR = OmegaConf.create({"clip_ratio": 0.2, "clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 3.0,
                          "global_batch_info": {}})  # fmt: skip


def group_rows(seed: int, size: int, uid: str, empty: bool = False) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for k in range(size):
        length = 0 if empty else rng.randint(1, T)
        ids = [rng.randrange(3) if t < length else 0 for t in range(T)]
        reward = 0.0 if empty else float(rng.random() < 0.5)
        if not empty and k < 2:
            reward = float(k)  # every real group has mixed rewards
        rows.append({"ids": ids, "length": length, "reward": reward, "uid": uid})
    return rows


def to_data(rows: list[dict], seed: int) -> DataProto:
    n = len(rows)
    mask = torch.tensor([[1.0 if t < r["length"] else 0.0 for t in range(T)] for r in rows])
    rewards = torch.zeros(n, T)
    for i, r in enumerate(rows):
        rewards[i, max(r["length"] - 1, 0)] = r["reward"]
    entropy = torch.rand(n, T, generator=torch.Generator().manual_seed(seed)) * 1.5
    return DataProto.from_dict(
        tensors={"responses": torch.tensor([r["ids"] for r in rows]), "response_mask": mask,
                 "token_level_rewards": rewards, "entropy": entropy},
        non_tensors={"uid": np.array([r["uid"] for r in rows], dtype=object)},
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_groups_of_different_sizes_and_pad_rows_equal_gtpo_loss_per_group(seed):
    sizes = {"a": 4, "b": 2, "c": 3, "d": 1}
    rows = [r for i, (uid, size) in enumerate(sizes.items()) for r in group_rows(10 * seed + i, size, uid)]
    rows += group_rows(0, 3, "pad0a1b", empty=True)  # v1's upsampling: rows under one pad uid, empty mask, reward 0
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))
    data = to_data([rows[i] for i in order], seed)
    config = OmegaConf.create({"gtpo": {"initial_entropy": 0.9}})
    data = ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=config)
    adv_tokens = data.batch["advantages"]
    is_pad = torch.tensor([rows[i]["uid"].startswith("pad") for i in order])
    assert torch.equal(adv_tokens[is_pad], torch.zeros(3, T))  # pad rows: A' = 0
    n = len(rows)
    logps = -torch.rand(n, T, generator=torch.Generator().manual_seed(99 + seed)) - 0.1
    old = logps + 0.1 * torch.randn(n, T, generator=torch.Generator().manual_seed(seed))
    lp = logps.clone().requires_grad_(True)
    loss, _ = core_algos.get_policy_loss_fn("vanilla")(old, lp, adv_tokens, data.batch["response_mask"],
                                                       loss_agg_mode="seq-mean-token-mean", config=ACTOR)  # fmt: skip
    loss.backward()
    # gtpo_loss on each real group alone (core's group_advantages, epsilon 1e-4), weighted by its share of the
    # real rows (verl's seq-mean-token-mean averages over the rows with a valid token: the pad rows do not count)
    lp_ref = logps.clone().requires_grad_(True)
    expected = torch.zeros(())
    b = data.batch
    for uid, size in sizes.items():
        idx = torch.tensor([k for k in range(n) if rows[order[k]]["uid"] == uid])
        adv = group_advantages(b["token_level_rewards"][idx].sum(-1), size)
        mask = b["response_mask"][idx]
        weights, conflicts, _ = conflict_tensors(b["responses"][idx], mask, adv, size)
        part, _ = gtpo_loss(lp_ref[idx], adv, mask, weights, b["entropy"][idx], old_logps=old[idx], initial_entropy=0.9,
                            conflict_mask=conflicts)  # fmt: skip
        expected = expected + part * size / (n - 3)
    expected.backward()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lp.grad, lp_ref.grad, rtol=1e-4, atol=1e-7)
    assert torch.equal(lp.grad[is_pad], torch.zeros(3, T))


def test_group_advantages_use_cores_epsilon():
    from gtpo.verl.estimator import grouped_advantages

    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 2.0])
    ids = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    out = grouped_advantages(scores, ids, "group")
    torch.testing.assert_close(out[:4], group_advantages(scores[:4], 4))  # (R - 0.25) / (0.5 + 1e-4)
    assert out[0] == pytest.approx(0.75 / (0.5 + 1e-4), rel=1e-6)
    assert torch.equal(out[4:], torch.zeros(3))  # a constant group and a group of one: exactly 0


def test_multi_turn_tool_outputs_do_not_count_in_the_entropies():
    # one group: row 0 (reward 1) is 2 model tokens, 3 masked tool-output tokens (entropy 3.0), 1 model token;
    # row 1 (reward 0) is 6 model tokens. Filter "always" at 1.0: row 0's <H> over its own tokens is 0.2
    # (kept); over the left-aligned span it would be (3 * 0.2 + 3 * 3.0) / 6 = 1.6 (filtered out).
    mask = torch.tensor([[1.0, 1, 0, 0, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0]])
    entropy = torch.tensor([[0.2, 0.2, 3.0, 3.0, 3.0, 0.2, 0.0, 0.0], [0.4] * 6 + [0.0, 0.0]])
    rewards = torch.zeros(2, T)
    rewards[0, 5] = 1.0
    data = DataProto.from_dict(
        tensors={"responses": torch.tensor([[1, 2, 7, 7, 7, 3, 0, 0], [4, 5, 6, 4, 5, 6, 0, 0]]), "response_mask": mask,
                 "token_level_rewards": rewards, "entropy": entropy},
        non_tensors={"uid": np.array(["u", "u"], dtype=object)},
    )  # fmt: skip
    config = OmegaConf.create({"gtpo": {"entropy_filter": "always", "entropy_threshold": 1.0, "initial_entropy": 1.0}})
    out = ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=config).batch["advantages"]
    a0 = 0.5 / (math.sqrt(0.5) + 1e-4) - 0.1 * 0.2  # A_0 - gamma * <H>_0, A_0 = 0.5 / (std 0.7071 + 1e-4)
    torch.testing.assert_close(out[0], torch.tensor([a0, a0, 0, 0, 0, a0, 0, 0]))  # tool outputs get A' = 0
    # <H>_ini measured on the first batch also averages the model's own tokens only
    patch.STATE.initial_entropy = None
    config = OmegaConf.create({"gtpo": {}})
    ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=config)
    assert patch.STATE.initial_entropy == pytest.approx((0.2 + 0.4) / 2, rel=1e-6)


def test_multi_trajectory_sessions_are_grouped_as_verls_grpo_groups_them():
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    # prompt u0: session 0 has rows 0 (turn 0) and 1 (final, reward 1); session 1 one row (reward 0);
    # session 2 one row (reward 1). prompt u1: two sessions, rewards 0 and 1. Turn rows carry no reward.
    keys = ["u0_0_0", "u0_0_1", "u0_1_0", "u0_2_0", "u1_0_0", "u1_1_0"]
    finals = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    rows = [{"ids": [1 + i, 2, 3, 0, 0, 0, 0, 0], "length": 3, "reward": r, "uid": k.split("_")[0]}
            for i, (k, r) in enumerate(zip(keys, finals, strict=True))]  # fmt: skip
    data = to_data(rows, 0)
    # with every conflict weight 1, no entropy term and no filter, A' = A_i on every valid token: verl's GRPO
    options = {"positive_weight": 1.0, "negative_weight": 1.0, "entropy_gamma": 0.0, "entropy_filter": "off"}
    ours = compute_advantage_for_multi_trajectories(data, batch_keys=keys, adv_estimator="gtpo",
                                                    config=OmegaConf.create({"gtpo": options}))  # fmt: skip
    grpo = compute_advantage_for_multi_trajectories(to_data(rows, 0), batch_keys=keys, adv_estimator="grpo",
                                                    config=OmegaConf.create({}))  # fmt: skip
    # verl's GRPO divides by std + 1e-6, GTPO by std + 1e-4 (relative difference < 2e-4 here)
    torch.testing.assert_close(ours.batch["advantages"], grpo.batch["advantages"], rtol=3e-4, atol=1e-6)
    assert ours.batch["advantages"][0, 0] > 0  # the turn row shares its session's final reward
    with pytest.raises(ValueError, match="batch key 'u0' is not verl's"):
        compute_advantage_for_multi_trajectories(to_data(rows[:1], 0), batch_keys=["u0"], adv_estimator="gtpo",
                                                 config=OmegaConf.create({}))  # fmt: skip


def test_norm_adv_by_std_in_grpo_false_means_scale_rewards_none():
    cfg = OmegaConf.create({"norm_adv_by_std_in_grpo": False, "gtpo": {}})
    options = VerlGTPOOptions.from_config(cfg)
    assert options.scale_rewards == "none" and options.overrides == {"scale_rewards": "none"}
    assert VerlGTPOOptions.from_config(OmegaConf.create({"norm_adv_by_std_in_grpo": True})).scale_rewards == "group"
    with pytest.raises(ValueError, match="norm_adv_by_std_in_grpo=false contradicts algorithm.gtpo.scale_rewards"):
        VerlGTPOOptions.from_config(OmegaConf.create({"norm_adv_by_std_in_grpo": False,
                                                      "gtpo": {"scale_rewards": "group"}}))  # fmt: skip


@pytest.mark.parametrize("ratio", [2.5, 4.0])
def test_vanilla_loss_equals_gtpo_loss_up_to_the_dual_clip(ratio):
    # one completion of one token, A' = -1 (A = -1, weight 1, no entropy term, no filter), ratio r = p / p_old.
    # PPO-clip: -min(r * A, clip(r, 0.8, 1.2) * A) = r for A = -1; verl's dual clip caps it at clip_ratio_c = 3.
    adv = torch.tensor([-1.0])
    mask = torch.ones(1, 1)
    old = torch.full((1, 1), -1.0)
    lp = (old + math.log(ratio)).requires_grad_(True)
    loss, _ = core_algos.get_policy_loss_fn("vanilla")(old, lp, adv.view(1, 1), mask,
                                                       loss_agg_mode="seq-mean-token-mean", config=ACTOR)  # fmt: skip
    loss.backward()
    lp_ref = (old + math.log(ratio)).requires_grad_(True)
    expected, _ = gtpo_loss(lp_ref, adv, mask, torch.ones(1, 1), torch.zeros(1, 1), old_logps=old, gamma=0.0,
                            filter_mode="off")  # fmt: skip
    expected.backward()
    assert float(expected) == pytest.approx(ratio)  # gtpo_loss: no dual clip; gradient d(r)/d(logp) = r
    assert float(lp_ref.grad) == pytest.approx(ratio)
    if ratio <= ACTOR.clip_ratio_c:  # below the line: equal
        assert float(loss) == pytest.approx(ratio) and float(lp.grad) == pytest.approx(ratio)
    else:  # beyond it: verl's dual clip, a constant clip_ratio_c without gradient
        assert float(loss) == pytest.approx(3.0) and float(lp.grad) == 0.0


def test_token_advantages_of_the_estimator_match_core_on_a_shuffled_batch():
    rows = [r for i, uid in enumerate("xyz") for r in group_rows(i, 4, uid)]
    data = to_data(rows, 5)
    cfg = OmegaConf.create({"gtpo": {"initial_entropy": 0.8}})
    out = ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=cfg).batch["advantages"]
    ids = torch.tensor([i // 4 for i in range(12)])
    adv = group_advantages(data.batch["token_level_rewards"].sum(-1), 4)
    expected, _ = token_advantages(data.batch["responses"], data.batch["response_mask"], adv, data.batch["entropy"], ids,
                                   initial_entropy=0.8)  # fmt: skip
    torch.testing.assert_close(out, expected)
