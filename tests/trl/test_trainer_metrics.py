"""GTPOTrainer numbers that comparisons rest on: constant-reward groups get A = 0 exactly, the logged
conflict shares are ratios of summed counts over the logging window, `entropy` is TRL's statistic
(GTPO and GRPO log the same value for the same completions), and tool-output tokens inside a
completion keep their positions for the conflicts but carry no loss weight."""

from __future__ import annotations

import pytest
import torch

from gtpo.core import conflict_mask, conflict_weights, gtpo_loss, mean_entropy
from gtpo.tasks import load_task
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY
from tests.trl.trl_helpers import TEXTS, ScriptedGeneration, answer_is_two, make_trainer


def _encode(trainer, texts=TEXTS):
    """(ids, mask) of the scripted completions, right-padded as TRL pads them."""
    tok = trainer.processing_class
    rows = [tok.encode(t, add_special_tokens=False) + [tok.eos_token_id] for t in texts]
    width = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


def test_constant_reward_groups_get_exactly_zero_advantage(tiny_model_dir, tmp_path):
    rows = list(load_task("arith", limit=2, seed=0))
    first_prompt = str(rows[0]["prompt"])

    def reward(completions, prompts, **_):
        # prompt 0: every completion scores 0.1 (a constant group); prompt 1: 0.3 if it answers 2, else 0.1
        return [0.1 if str(p) == first_prompt else (0.3 if "<answer>\n2\n" in c else 0.1)
                for c, p in zip(completions, prompts, strict=True)]  # fmt: skip

    trainer = make_trainer(tiny_model_dir, tmp_path / "run", reward=reward, num_generations=12,
                           per_device_train_batch_size=24, entropy_filter="negative_only")  # fmt: skip
    trainer.model.train()
    # TRL's float32 arithmetic leaves a residue on twelve rewards of 0.1
    r = torch.full((12,), 0.1)
    assert ((r - r.mean()) / (r.std() + 1e-4)).abs().max() > 0
    out = trainer._generate_and_score_completions([rows[0]] * 12 + [rows[1]] * 12)
    adv = out["advantages"]
    assert torch.equal(adv[:12], torch.zeros(12))  # exactly 0: neither positive nor negative rows
    assert (out[WEIGHTS_KEY][:12] == out["completion_mask"][:12]).all()  # no conflicts in that group
    # the mixed group keeps TRL's advantages: 0.3 for rows answering 2 (texts 0 and 2), else 0.1
    mixed = torch.tensor([0.3, 0.1, 0.3, 0.1] * 3)
    torch.testing.assert_close(adv[12:], (mixed - mixed.mean()) / (mixed.std() + 1e-4))


def test_logged_conflict_shares_are_ratios_over_the_logging_window(tiny_model_dir, tmp_path):
    calls = []

    def constant_then_mixed(completions, **kwargs):
        calls.append(len(completions))
        return [1.0] * len(completions) if len(calls) == 1 else answer_is_two(completions)

    # 2 optimizer steps in one logging window; each step generates 8 rows (2 prompts x G = 4) and
    # trains on them in 2 shuffled micro-batches of 4. Step 1: every reward equal (A = 0, no
    # positive or negative rows); step 2: rewards [1, 0, 1, 0] in both groups.
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", reward=constant_then_mixed, max_steps=2,
                           logging_steps=2, per_device_train_batch_size=4, gradient_accumulation_steps=2)  # fmt: skip
    trainer.train()
    assert calls == [8, 8]
    logged = [row for row in trainer.state.log_history if "gtpo/conflict_frac_pos" in row]
    assert len(logged) == 1

    # by hand: the step-2 batch is the 4 scripted completions twice; shares = counts summed over it
    ids, mask = _encode(trainer)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    conflicts = conflict_mask(ids, mask, adv, 4) & mask.bool()  # same counts in both groups
    pos, neg = mask.bool() & (adv > 0)[:, None], mask.bool() & (adv < 0)[:, None]
    share_pos = (conflicts & pos).sum().item() / pos.sum().item()
    share_neg = (conflicts & neg).sum().item() / neg.sum().item()
    assert 0 < share_pos < 1 and 0 < share_neg < 1
    assert logged[0]["gtpo/conflict_frac_pos"] == pytest.approx(share_pos, rel=1e-6)
    assert logged[0]["gtpo/conflict_frac_neg"] == pytest.approx(share_neg, rel=1e-6)


def test_gtpo_and_grpo_log_the_same_entropy_at_step_one(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from gtpo.trl.guarded import GuardedGRPOTrainer
    from trl import GRPOConfig

    gtpo = make_trainer(tiny_model_dir, tmp_path / "gtpo", scripted=False, max_steps=1)
    gtpo.train()
    fields = {f: getattr(gtpo.args, f) for f in ("per_device_train_batch_size", "num_generations",
              "max_completion_length", "temperature", "learning_rate", "seed")}  # fmt: skip
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), use_cpu=True, bf16=False, max_steps=1, logging_steps=1,
                      save_strategy="no", report_to="none", disable_tqdm=True, dataloader_num_workers=0,
                      beta=0.0, **fields)  # fmt: skip
    grpo = GuardedGRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=[answer_is_two], args=args,
        train_dataset=load_task("arith", limit=16, seed=0),
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left"),
    )  # fmt: skip
    grpo.train()
    first_gtpo, first_grpo = gtpo.state.log_history[0], grpo.state.log_history[0]
    # the same sampled completions at step 1 ...
    assert first_gtpo["completions/mean_length"] == first_grpo["completions/mean_length"]
    # ... log the same entropy (TRL's token-weighted mean), and GTPO's per-completion mean separately
    assert first_gtpo["entropy"] == pytest.approx(first_grpo["entropy"], rel=1e-5)
    assert "gtpo/completion_entropy" in first_gtpo and "gtpo/completion_entropy" not in first_grpo


def test_tool_output_tokens_keep_positions_but_carry_no_loss(tiny_model_dir, tmp_path, generation_inputs):
    trainer = make_trainer(tiny_model_dir, tmp_path / "run")
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    # tokens 3..6 of the first two completions (a positive and a negative one) are a tool's output
    trainer._generate = ScriptedGeneration(trainer, tool_spans={0: (3, 7), 1: (3, 7)})
    out = trainer._generate_and_score_completions(generation_inputs)
    ids, mask, adv, tool = out["completion_ids"], out["completion_mask"], out["advantages"], out["tool_mask"]
    assert (tool[0, 3:7] == 0).all() and (tool[0, 7:] == 1).all()  # zeros inside the completion
    # conflicts and weights on the completion's positions (tool tokens included, left-aligned mask)
    assert torch.equal(out[CONFLICTS_KEY], conflict_mask(ids, mask, adv, 4))
    torch.testing.assert_close(out[WEIGHTS_KEY], conflict_weights(ids, mask, adv, 4), rtol=0, atol=0)

    captured = {}
    original = trainer._get_per_token_logps_and_entropies

    def capture(*args, **kwargs):
        logps, entropy, aux = original(*args, **kwargs)
        logps.retain_grad()
        captured.update(logps=logps, entropy=entropy)
        return logps, entropy, aux

    trainer._get_per_token_logps_and_entropies = capture
    loss = trainer._compute_loss(trainer.model, out)
    loss.backward()
    logps, entropy = captured["logps"], captured["entropy"].detach()
    model_tokens = mask * tool  # (B, T) the loss mask
    h_ini = trainer.gtpo_state.initial_entropy
    # <H>_ini and the loss use the model's own tokens only
    assert h_ini == pytest.approx(mean_entropy(entropy, model_tokens).mean().item(), rel=1e-5)
    expected, _ = gtpo_loss(logps.detach(), adv, model_tokens, out[WEIGHTS_KEY], entropy,
                            initial_entropy=h_ini, conflict_mask=out[CONFLICTS_KEY])  # fmt: skip
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)
    grad = logps.grad  # (B, T)
    assert (grad[tool == 0] == 0).all()  # tool-output tokens carry no loss weight
    assert (grad[0, 7:][out[WEIGHTS_KEY][0, 7:] > 0] != 0).all()  # the model's tokens after the tool do
    logged = (torch.where(model_tokens.bool(), entropy, 0.0).sum() / model_tokens.sum()).item()
    assert trainer._metrics["train"]["entropy"] == [pytest.approx(logged, rel=1e-6)]
