"""GTPOTrainer's hooks.

Model-free tests build the trainer as TRL's own loss-dispatch tests do: `object.__new__(GTPOTrainer)` with
only the attributes a hook reads, set to small stand-ins (one process's accelerator, `_metrics`, the
GTPOState callback, `model.training`). They pin the numbers that comparisons rest on: constant-reward
groups get A = 0 exactly, the logged conflict shares are ratios of summed counts over the logging window,
and <H>_ini is the first training batch's mean completion entropy. The tests after them run the hooks on
the tiny model with scripted completions of known structure (test_trainer_metrics.py checks the same
numbers end to end on the tiny model)."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainerCallback
from trl.trainer.utils import nanstd

from gtpo.core import conflict_mask, conflict_weights, gtpo_loss, mean_entropy, token_entropy
from gtpo.trl.guarded import GuardedGRPOTrainer
from gtpo.trl.trainer import CONFLICTS_KEY, COUNT_PREFIX, WEIGHTS_KEY, GTPOState, GTPOTrainer


# ---- model-free stand-ins ---------------------------------------------------------------------------
class _Accelerator:
    """Process `process_index` of `num_processes`: gather and padding return this process's tensor, and
    reduce(sum) adds the `others` tensors (the other processes' values) to it: exact for one process."""

    device = torch.device("cpu")

    def __init__(self, process_index=0, num_processes=1, others=()):
        self.process_index, self.num_processes, self.others = process_index, num_processes, others
        self.is_main_process = process_index == 0

    def gather(self, tensor):
        return tensor

    def pad_across_processes(self, tensor, dim=0, pad_index=0):
        return tensor

    def reduce(self, tensor, reduction="sum"):
        assert reduction == "sum"
        return tensor + sum(self.others)


def _bare_trainer(*, training=True, **accelerator):
    trainer = object.__new__(GTPOTrainer)
    trainer.accelerator = _Accelerator(**accelerator)
    trainer.model = SimpleNamespace(training=training)
    trainer.callback_handler = SimpleNamespace(callbacks=[TrainerCallback(), GTPOState()])
    trainer._metrics = defaultdict(lambda: defaultdict(list))
    trainer.args = SimpleNamespace(collapse_conflict_share=1.0, collapse_entropy_fraction=0.0)  # monitor off
    trainer.state = SimpleNamespace(global_step=1)
    return trainer


def _trl_advantages(rewards_per_func, group_size, weights=(1.0,)):
    """TRL 1.16's advantages (sum_then_normalize, scale_rewards 'group'): R = weighted nansum over the
    functions, NaN on unscorable rows (left out of the group's nanmean and nanstd), A = (R - mean) / (std + 1e-4),
    then NaN -> 0."""
    rewards = (rewards_per_func * torch.tensor(weights)).nansum(1)  # (N,)
    rewards[rewards_per_func.isnan().all(1)] = math.nan
    grouped = rewards.view(-1, group_size)  # (N/G, G)
    centred = grouped - grouped.nanmean(1, keepdim=True)
    return (centred / (nanstd(grouped, dim=1, keepdim=True) + 1e-4)).nan_to_num(0.0).view(-1)  # (N,)


def _zeroed(trainer, rewards_per_func, group_size, advantages, weights=None):
    trainer._gathered_rewards = rewards_per_func
    trainer.reward_weights = torch.tensor(weights or [1.0] * rewards_per_func.shape[1])
    return trainer._zero_constant_groups(advantages, group_size)


# Rewards of one group of G = 12. TRL's float32 mean of twelve 0.1f = 0.1000000015 accumulates rounding
# (here it comes out 0.1f + 2^-26): R - mean = -2^-26 ~ -1.5e-8 on every row, and / (std + 1e-4) ~ -1.5e-4,
# so every row of the constant group would count as negative. [0.3, 0.1] * 6: mean 0.2, sample std
# sqrt(12 * 0.01 / 11) = 0.104447, A = +-0.1 / (0.104447 + 1e-4) = +-0.956511.
CONSTANT = [[0.1]] * 12
MIXED = [[0.3], [0.1]] * 6
MIXED_A = 0.956511


def test_constant_group_gets_exactly_zero_where_trl_leaves_a_residue():
    rewards = torch.tensor(CONSTANT + MIXED)  # (24, 1): group 0 constant, group 1 mixed
    trl = _trl_advantages(rewards, 12)
    assert (trl[:12] != 0).all()  # TRL's residue
    out = _zeroed(_bare_trainer(), rewards, 12, trl)
    assert torch.equal(out[:12], torch.zeros(12))
    assert torch.equal(out[12:], trl[12:])  # the mixed group keeps TRL's advantages
    torch.testing.assert_close(out[12:], torch.tensor([MIXED_A, -MIXED_A] * 6), rtol=1e-5, atol=0)


def test_unscorable_rows_do_not_break_a_constant_group():
    # row 5 is unscorable (NaN): the eleven scored rows are all 0.1, so the group is constant; TRL leaves
    # the same residue on the scored rows (its nanmean of eleven 0.1f) and 0 on the NaN row
    rewards = torch.tensor(CONSTANT[:5] + [[math.nan]] + CONSTANT[6:] + MIXED[:5] + [[math.nan]] + MIXED[6:])
    trl = _trl_advantages(rewards, 12)
    assert (trl[:5] != 0).all() and trl[5] == 0
    out = _zeroed(_bare_trainer(), rewards, 12, trl)
    assert torch.equal(out[:12], torch.zeros(12))
    assert torch.equal(out[12:], trl[12:]) and (out[12:17] != 0).all()  # a NaN row keeps a mixed group mixed


def test_with_two_reward_functions_a_group_is_constant_when_its_weighted_reward_is():
    # weights (1, 2). group 0: both functions constant (0.1, 0.35): R = 0.1 + 2 * 0.35 = 0.8 on every row,
    # TRL's residue ~ -1.2e-3 -> 0.
    # group 1: function 1 constant, function 2 mixed: R = 1 + 2 * [1, 0] * 6 = [3, 1] * 6, mean 2,
    # std sqrt(12 * 1 / 11) = 1.044466, A = +-1 / (1.044466 + 1e-4) = +-0.957335, kept.
    # group 2: rows (1, 0) and (0, 1): the unweighted sums are equal, but the weighted ones R = [1, 2] * 6:
    # mean 1.5, std sqrt(12 * 0.25 / 11) = 0.522233, A = -+0.5 / (0.522233 + 1e-4) = -+0.957244, kept.
    rewards = torch.tensor([[0.1, 0.35]] * 12 + [[1.0, 1.0], [1.0, 0.0]] * 6 + [[1.0, 0.0], [0.0, 1.0]] * 6)
    trl = _trl_advantages(rewards, 12, weights=(1.0, 2.0))
    assert (trl[:12] != 0).all()
    out = _zeroed(_bare_trainer(), rewards, 12, trl, weights=[1.0, 2.0])
    assert torch.equal(out[:12], torch.zeros(12))
    assert torch.equal(out[12:], trl[12:])
    a, b = 0.957335, 0.957244
    torch.testing.assert_close(out[12:], torch.tensor([a, -a] * 6 + [-b, b] * 6), rtol=1e-5, atol=0)


def test_a_varying_function_of_weight_zero_leaves_the_group_constant():
    # weights (1, 0): function 2 varies ([1, 0] * 6) but counts 0 in R = 0.1 on every row; TRL's weighted sum
    # leaves its residue (12 x 0.1f), which must not decide the sign of the rows: A = 0 exactly
    rewards = torch.tensor([[0.1, 1.0], [0.1, 0.0]] * 6)
    trl = _trl_advantages(rewards, 12, weights=(1.0, 0.0))
    assert (trl != 0).all()
    assert torch.equal(_zeroed(_bare_trainer(), rewards, 12, trl, weights=[1.0, 0.0]), torch.zeros(12))


def test_zero_constant_groups_takes_this_process_rows():
    # 4 groups of 12 over 2 processes of 24 rows: process 0 holds groups 0 (mixed) and 1 (constant),
    # process 1 groups 2 (constant) and 3 (mixed); process 1's advantages are TRL's rows 24..47
    rewards = torch.tensor(MIXED + CONSTANT + CONSTANT + MIXED)  # (48, 1)
    trl = _trl_advantages(rewards, 12)
    out = _zeroed(_bare_trainer(process_index=1, num_processes=2), rewards, 12, trl[24:])
    # process 0's rows would zero the second half instead of the first
    assert torch.equal(out[:12], torch.zeros(12)) and (trl[24:36] != 0).all()
    assert torch.equal(out[12:], trl[36:])
    torch.testing.assert_close(out[12:], torch.tensor([MIXED_A, -MIXED_A] * 6), rtol=1e-5, atol=0)


# ---- logged conflict shares -------------------------------------------------------------------------
@pytest.fixture
def parent_log(monkeypatch):
    """Records what GTPOTrainer.log hands its parent (GuardedGRPOTrainer.log): the logs and the window's
    `_metrics`, which TRL's log averages; then clears the window, as TRL's log does."""
    calls = []

    def record(self, logs, start_time=None):
        window = self._metrics["train" if self.model.training else "eval"]
        calls.append((dict(logs), {key: list(values) for key, values in window.items()}))
        window.clear()

    monkeypatch.setattr(GuardedGRPOTrainer, "log", record)
    return calls


def _log_micro_batch(trainer, mode, rows):
    """`_log_gtpo_metrics` on gtpo_loss's metrics for rows (advantage, valid tokens, conflict tokens)."""
    width = max(valid for _, valid, _ in rows)
    position = torch.arange(width)
    mask = torch.stack([position < valid for _, valid, _ in rows]).float()  # (B, T)
    conflicts = torch.stack([position < count for _, _, count in rows])  # (B, T)
    zeros = torch.zeros_like(mask)
    advantages = torch.tensor([a for a, _, _ in rows])
    _, metrics = gtpo_loss(zeros, advantages, mask, torch.ones_like(mask), zeros, filter_mode="off",
                           conflict_mask=conflicts)  # fmt: skip
    trainer._log_gtpo_metrics(metrics, mode)
    return metrics


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_logged_conflict_shares_are_ratios_of_the_window_counts(parent_log, mode):
    trainer = _bare_trainer(training=mode == "train")
    # micro-batch 1: a positive row with 3 conflicts in 10 tokens, a negative one with 1 in 4;
    # micro-batch 2: 1 in 30 and 9 in 12
    first = _log_micro_batch(trainer, mode, [(1.0, 10, 3), (-1.0, 4, 1)])
    second = _log_micro_batch(trainer, mode, [(1.0, 30, 1), (-1.0, 12, 9)])
    assert first["conflict_frac_pos"].item() == pytest.approx(3 / 10)
    assert second["conflict_frac_pos"].item() == pytest.approx(1 / 30)
    assert trainer._metrics[mode][COUNT_PREFIX + "valid_tokens_pos"] == [10.0, 30.0]
    trainer.log({"loss": 0.5})
    logs, window = parent_log[-1]
    # pos: (3 + 1) / (10 + 30) = 0.1; the mean of the two ratios would be (3/10 + 1/30) / 2 = 1/6
    assert window["gtpo/conflict_frac_pos"] == [4 / 40]
    assert 4 / 40 != pytest.approx((3 / 10 + 1 / 30) / 2)
    # neg: (1 + 9) / (4 + 12) = 0.625; the mean of ratios would be (1/4 + 9/12) / 2 = 0.5
    assert window["gtpo/conflict_frac_neg"] == [10 / 16]
    assert 10 / 16 != pytest.approx((1 / 4 + 9 / 12) / 2)
    # the private counts do not reach the parent; the other metrics do
    assert not any(key.startswith(COUNT_PREFIX) for key in [*window, *logs])
    assert logs == {"loss": 0.5}  # TRL logs `entropy` itself, from its loss


def test_a_window_without_positive_rows_logs_nan_and_one_without_gtpo_batches_no_share(parent_log):
    trainer = _bare_trainer()
    # a negative row with 2 conflicts in 8 tokens and a row with A = 0 (neither positive nor negative)
    _log_micro_batch(trainer, "train", [(-1.0, 8, 2), (0.0, 6, 3)])
    trainer.log({"loss": 0.5})
    _, window = parent_log[-1]
    assert math.isnan(window["gtpo/conflict_frac_pos"][0])  # no value, not a share of 0
    assert window["gtpo/conflict_frac_neg"] == [2 / 8]
    trainer.log({"loss": 0.5})  # nothing logged by GTPO in this window
    _, window = parent_log[-1]
    assert not any(key.startswith("gtpo/conflict_frac") for key in window)


# ---- <H>_ini ----------------------------------------------------------------------------------------
# completion 0: tokens 1, 2, 3 (the 9 is padding) -> <H>_0 = 2; completion 1: token 4 -> <H>_1 = 4;
# completion 2 has no valid token and is left out: <H>_ini = (2 + 4) / 2 = 3. (The token mean would be
# 10 / 4 = 2.5, counting completion 2 as 0 gives 6 / 3 = 2, reading the padding gives (3.75 + 4) / 2.)
ENTROPY = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 9.0, 9.0, 9.0], [9.0] * 4])
MASK = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_initial_entropy_is_the_first_training_batch_mean_over_completions():
    trainer = _bare_trainer()
    assert trainer._initial_entropy(ENTROPY, MASK, "train") == 3.0
    assert trainer.gtpo_state.initial_entropy == 3.0
    assert trainer.callback_handler.callbacks[1].state()["attributes"] == {"initial_entropy": 3.0, "collapse_step": None}
    # a later batch (mean 7) returns the stored value and leaves it unchanged
    assert trainer._initial_entropy(torch.full((2, 3), 7.0), torch.ones(2, 3), "train") == 3.0
    assert trainer.gtpo_state.initial_entropy == 3.0


def test_initial_entropy_averages_the_completions_of_all_processes():
    # another process holds one completion of <H> = 9: its totals [sum 9, count 1] are reduced with ours,
    # (2 + 4 + 9) / 3 = 5 (the mean of the two processes' means would be (3 + 9) / 2 = 6)
    trainer = _bare_trainer(num_processes=2, others=(torch.tensor([9.0, 1.0]),))
    assert trainer._initial_entropy(ENTROPY, MASK, "train") == 5.0
    assert trainer.gtpo_state.initial_entropy == 5.0


def test_initial_entropy_is_not_stored_in_eval_or_from_a_nan_batch():
    trainer = _bare_trainer()
    assert trainer._initial_entropy(ENTROPY, MASK, "eval") == 3.0
    assert trainer.gtpo_state.initial_entropy is None
    nan_batch = torch.tensor([[math.nan, 1.0]])
    assert math.isnan(trainer._initial_entropy(nan_batch, torch.ones(1, 2), "train"))
    assert trainer.gtpo_state.initial_entropy is None
    assert trainer._initial_entropy(ENTROPY, MASK, "train") == 3.0  # the next finite batch is stored
    assert trainer.gtpo_state.initial_entropy == 3.0


def test_initial_entropy_waits_for_a_batch_with_valid_tokens():
    # every completion of the first micro-batch masked (e.g. mask_truncated_completions) on every process:
    # no entropy was measured, so nothing is stored (a stored 0.0 would turn the 'auto' filter on for good)
    trainer = _bare_trainer(num_processes=2, others=(torch.tensor([0.0, 0.0]),))
    assert trainer._initial_entropy(torch.full((2, 3), 6.19), torch.zeros(2, 3), "train") is None
    assert trainer.gtpo_state.initial_entropy is None
    assert trainer._initial_entropy(torch.full((2, 3), 6.19), torch.ones(2, 3), "train") == pytest.approx(6.19 * 2 / 2)


# ---- on the tiny model ------------------------------------------------------------------------------
def test_generated_batch_carries_gtpo_weights(scripted_trainer, generation_inputs):
    out = scripted_trainer._generate_and_score_completions(generation_inputs)
    ids, mask, adv = out["completion_ids"], out["completion_mask"], out["advantages"]
    # rewards per group [1, 0, 1, 0]: A > 0 for rows 0, 2 and A < 0 for rows 1, 3 of each group
    assert (adv.view(2, 4) > 0).tolist() == [[True, False, True, False]] * 2
    expected = conflict_weights(ids, mask, adv, 4, scope="prefix_suffix", positive_weight=2.0)
    torch.testing.assert_close(out[WEIGHTS_KEY], expected, rtol=0, atol=0)
    assert torch.equal(out[CONFLICTS_KEY], conflict_mask(ids, mask, adv, 4, scope="prefix_suffix"))
    # "<reasoning>" opens rows 0, 1, 2: a conflict (positive rows 0 and 2, negative row 1) -> 2, 0, 2;
    # row 3 starts with "<answer>", which stands first in no positive row -> 1
    assert out[WEIGHTS_KEY][:4, 0].tolist() == [2.0, 0.0, 2.0, 1.0]
    # every row ends with "\n</answer><eos>", right-aligned in all rows: conflicts in all four rows
    last = mask.sum(1) - 1  # (B,)
    assert [out[WEIGHTS_KEY][i, last[i]].item() for i in range(4)] == [2.0, 0.0, 2.0, 0.0]
    assert (out[WEIGHTS_KEY][mask == 0] == 0).all()


def _reference_logps_and_entropy(model, out, temperature):
    """log pi(o_t) and H_t from a plain forward pass: logits at position P+t-1 predict token P+t."""
    input_ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attention = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    T = out["completion_ids"].size(1)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, -T - 1 : -1] / temperature
    logps = logits.log_softmax(-1).gather(-1, out["completion_ids"].unsqueeze(-1)).squeeze(-1)  # (B, T)
    return logps, token_entropy(logits)  # (B, T), (B, T)


def test_loss_equals_gtpo_loss_on_the_batch(scripted_trainer, generation_inputs):
    trainer = scripted_trainer
    out = trainer._generate_and_score_completions(generation_inputs)
    loss = trainer._compute_loss(trainer.model, out)
    logps, entropy = _reference_logps_and_entropy(trainer.model, out, trainer.args.temperature)
    mask = out["completion_mask"]
    # <H>_ini was measured on this first batch: the mean over completions of <H>_i
    torch.testing.assert_close(
        torch.tensor(trainer.gtpo_state.initial_entropy), mean_entropy(entropy, mask).mean(), rtol=1e-4, atol=1e-5
    )
    expected, metrics = gtpo_loss(
        logps, out["advantages"], mask, out[WEIGHTS_KEY], entropy,
        gamma=0.1, entropy_threshold=trainer.args.entropy_threshold,
        initial_entropy=trainer.gtpo_state.initial_entropy, filter_mode="auto",
        conflict_mask=out[CONFLICTS_KEY],
    )  # fmt: skip
    # one accumulation step: the trainer's loss is gtpo_loss itself
    assert trainer.current_gradient_accumulation_steps == 1
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)
    logged = trainer._metrics["train"]
    for name in ("filtered_frac", "shaped_advantage", "completion_entropy"):
        assert logged[f"gtpo/{name}"] == [pytest.approx(metrics[name].item(), rel=1e-4, abs=1e-6)]
    assert logged["gtpo/initial_entropy"] == [trainer.gtpo_state.initial_entropy]
    # `entropy` is TRL's statistic: the token-weighted mean, not the mean of <H>_i
    token_mean = (entropy * mask).sum() / mask.sum()
    assert logged["entropy"] == [pytest.approx(token_mean.item(), rel=1e-6)]
    # the conflict shares are logged at `log` time from the counts of the window
    trainer.log({"loss": float(loss)})
    shares = trainer.state.log_history[-1]
    for sign in ("pos", "neg"):
        expected_share = metrics[f"conflict_tokens_{sign}"] / metrics[f"valid_tokens_{sign}"]
        assert shares[f"gtpo/conflict_frac_{sign}"] == pytest.approx(expected_share.item(), rel=1e-6)
    assert not any(key.startswith("gtpo/_count") for key in shares)


def test_negative_conflict_tokens_get_zero_gradient(scripted_trainer, generation_inputs):
    trainer = scripted_trainer
    out = trainer._generate_and_score_completions(generation_inputs)
    captured = {}
    original = trainer._get_per_token_logps_and_entropies

    def capture(*args, **kwargs):
        logps, entropy, aux = original(*args, **kwargs)
        logps.retain_grad()
        captured["logps"] = logps
        return logps, entropy, aux

    trainer._get_per_token_logps_and_entropies = capture
    trainer._compute_loss(trainer.model, out).backward()
    grad = captured["logps"].grad  # (B, T) d loss / d log pi(o_t)
    valid, conflicts, adv = out["completion_mask"].bool(), out[CONFLICTS_KEY], out["advantages"]
    negative = (adv < 0).unsqueeze(1) & valid
    positive = (adv > 0).unsqueeze(1) & valid
    assert (negative & conflicts).any() and (negative & ~conflicts).any()
    assert (grad[negative & conflicts] == 0).all()
    assert (grad[negative & ~conflicts] != 0).all()
    # on-policy, d loss / d logp_{i,t} = -a_i * lambda_{i,t} / (|o_i| N): conflict tokens of a positive
    # row get exactly w = 2 times the gradient of its other tokens
    for i in positive.any(1).nonzero().flatten().tolist():
        inside, outside = grad[i][positive[i] & conflicts[i]], grad[i][positive[i] & ~conflicts[i]]
        torch.testing.assert_close(inside, torch.full_like(inside, 2 * outside[0].item()))
        torch.testing.assert_close(outside, torch.full_like(outside, outside[0].item()))
    # parameters receive a gradient
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.model.parameters())


def test_initial_entropy_is_kept_once_measured(scripted_trainer, generation_inputs):
    trainer = scripted_trainer
    trainer.gtpo_state.initial_entropy = 1.25  # e.g. restored from a checkpoint
    out = trainer._generate_and_score_completions(generation_inputs)
    trainer._compute_loss(trainer.model, out)
    assert trainer.gtpo_state.initial_entropy == 1.25
    assert trainer.gtpo_state.state() == {"args": {}, "attributes": {"initial_entropy": 1.25, "collapse_step": None}}


def test_no_reference_model(scripted_trainer):
    assert scripted_trainer.ref_model is None and scripted_trainer.beta == 0.0


def test_several_updates_per_batch_use_old_logps_and_the_ppo_clip(tiny_model_dir, tmp_path, generation_inputs):
    from tests.trl.trl_helpers import make_trainer

    trainer = make_trainer(tiny_model_dir, tmp_path / "run", num_iterations=2, epsilon=0.2)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(generation_inputs)
    assert "old_per_token_logps" in out  # TRL computes pi_old when a batch is reused (num_iterations > 1)
    old = out["old_per_token_logps"]
    # move the policy away from pi_old so that the clip binds on some tokens
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    loss = trainer._compute_loss(trainer.model, out)
    logps, entropy = _reference_logps_and_entropy(trainer.model, out, trainer.args.temperature)
    expected, metrics = gtpo_loss(
        logps, out["advantages"], out["completion_mask"], out[WEIGHTS_KEY], entropy, old_logps=old,
        initial_entropy=trainer.gtpo_state.initial_entropy, clip_eps=0.2, conflict_mask=out[CONFLICTS_KEY],
    )  # fmt: skip
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)
    assert metrics["clip_frac"] > 0 and trainer._metrics["train"]["clip_ratio/region_mean"][0] > 0  # TRL's metric


def test_reference_code_variant_reaches_weights_and_loss(tiny_model_dir, tmp_path, generation_inputs):
    from gtpo.core import conflict_counts
    from gtpo.trl.trainer import COUNTS_KEY
    from tests.trl.trl_helpers import ScriptedGeneration, make_trainer

    # short (rows 0, 2: reward 1) and the same text twice (rows 1, 3: reward 0): the short rows' tokens sit
    # inside the forward run (prefix of the long row) and inside the backward run (its suffix): w^2 = 4
    short = "<answer>\n2\n</answer>"
    texts = (short, short + "\n" + short)
    reward = lambda completions, **_: [1.0 if len(c) == len(short) else 0.0 for c in completions]  # noqa: E731
    trainer = make_trainer(tiny_model_dir, tmp_path / "ref", reward=reward, gtpo_variant="reference_code")
    trainer._generate = ScriptedGeneration(trainer, texts=texts)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(generation_inputs)
    ids, mask, adv = out["completion_ids"], out["completion_mask"], out["advantages"]
    # scale_rewards 'none': A = R - mean = +-0.5 for rewards [1, 0, 1, 0] (the paper's std scaling: +-0.866)
    torch.testing.assert_close(adv, torch.tensor([0.5, -0.5, 0.5, -0.5] * 2))
    torch.testing.assert_close(out[WEIGHTS_KEY], conflict_weights(ids, mask, adv, 4, combine="product"), rtol=0, atol=0)
    short_len = int(mask[0].sum())
    # every token but the EOS is in both runs (w^2); the EOS faces the long row's "\n" forward: w
    assert out[WEIGHTS_KEY][0, :short_len].tolist() == [4.0] * (short_len - 1) + [2.0]
    assert (out[WEIGHTS_KEY][1][mask[1].bool()] == 0).any()
    counts = conflict_counts(ids, mask, adv, 4, count="reference_code")
    torch.testing.assert_close(out[COUNTS_KEY], counts)
    loss = trainer._compute_loss(trainer.model, out)
    logps, entropy = _reference_logps_and_entropy(trainer.model, out, trainer.args.temperature)
    expected, _ = gtpo_loss(
        logps, adv, mask, out[WEIGHTS_KEY], entropy, gamma=0.1, entropy_threshold=0.7,
        initial_entropy=trainer.gtpo_state.initial_entropy, filter_mode="always",
        conflict_mask=out[CONFLICTS_KEY], normalize_by_conflicts=True, conflict_counts=counts,
    )  # fmt: skip
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)


# ---- the collapse monitor --------------------------------------------------------------------------
def test_collapse_monitor_warns_once_and_logs_the_step(parent_log, capsys):
    trainer = _bare_trainer()
    trainer.args = SimpleNamespace(collapse_conflict_share=0.5, collapse_entropy_fraction=0.25)
    trainer.state = SimpleNamespace(global_step=7)
    trainer.gtpo_state.initial_entropy = 2.0
    # window 1: positive share 4 / 10 = 0.4 <= 0.5, entropy 0.6 >= 0.25 x 2 = 0.5: quiet
    _log_micro_batch(trainer, "train", [(1.0, 10, 4), (-1.0, 10, 4)])
    trainer._metrics["train"]["entropy"].append(0.6)
    trainer.log({"loss": 0.5})
    assert "gtpo/collapse" not in parent_log[-1][1] and "possible collapse" not in capsys.readouterr().err
    # window 2: share 6 / 10 = 0.6 > 0.5 and entropy 0.4 < 0.5: both reasons, code 1 + 2
    _log_micro_batch(trainer, "train", [(1.0, 10, 6), (-1.0, 10, 4)])
    trainer._metrics["train"]["entropy"].append(0.4)
    trainer.log({"loss": 0.5})
    assert parent_log[-1][1]["gtpo/collapse"] == [3.0]
    err = capsys.readouterr().err
    assert "step 7: possible collapse" in err and "60%" in err and "negative_weight" in err
    # window 3: still collapsed, but the monitor warns once per run
    _log_micro_batch(trainer, "train", [(1.0, 10, 9), (-1.0, 10, 4)])
    trainer.log({"loss": 0.5})
    assert "gtpo/collapse" not in parent_log[-1][1] and capsys.readouterr().err == ""
    assert trainer.gtpo_state.state()["attributes"]["collapse_step"] == 7  # saved with every checkpoint


def test_a_resumed_run_that_already_warned_stays_quiet(parent_log, capsys):
    trainer = _bare_trainer()
    trainer.args = SimpleNamespace(collapse_conflict_share=0.5, collapse_entropy_fraction=0.25)
    trainer.state = SimpleNamespace(global_step=13)
    saved = SimpleNamespace(stateful_callbacks={"GTPOState": {"attributes": {"initial_entropy": 2.0, "collapse_step": 2}}})
    trainer.gtpo_state.on_train_begin(None, saved, None)  # what transformers does on resume
    assert trainer.gtpo_state.initial_entropy == 2.0 and trainer.gtpo_state.collapse_step == 2
    _log_micro_batch(trainer, "train", [(1.0, 10, 9), (-1.0, 10, 4)])  # share 0.9 > 0.5
    trainer.log({"loss": 0.5})
    assert "gtpo/collapse" not in parent_log[-1][1] and capsys.readouterr().err == ""


def test_the_exact_conflict_count_divisor_leaves_out_tool_output_tokens():
    # one positive row of 4 tokens, all conflicts; tokens 1-2 are a tool's output (tool_mask 0): the loss
    # sees 2 tokens, so normalize_by_conflicts divides by 2 (not by the 4 conflicts of the positions)
    # A' = delta * (A - gamma * <H>) * lambda / c = 1 * (1 - 0) * 2 / 2 = 1 on the 2 seen tokens, 0 on the tool's
    trainer = _bare_trainer()
    trainer.args = SimpleNamespace(normalize_by_conflicts=True, conflict_count="exact", entropy_gamma=0.0,
                                   entropy_threshold=0.6931, entropy_filter="off",
                                   collapse_conflict_share=1.0, collapse_entropy_fraction=0.0)  # fmt: skip
    batch = {"completion_mask": torch.ones(1, 4), "tool_mask": torch.tensor([[1.0, 0.0, 0.0, 1.0]]),
             "advantages": torch.tensor([1.0]), WEIGHTS_KEY: torch.full((1, 4), 2.0),
             CONFLICTS_KEY: torch.ones(1, 4, dtype=torch.bool)}  # fmt: skip
    token_adv = trainer._gtpo_advantages(batch, torch.zeros(1, 4))
    assert token_adv.tolist() == [[1.0, 0.0, 0.0, 1.0]]
