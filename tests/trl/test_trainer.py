"""GTPOTrainer's two hooks on the tiny model, with scripted completions of known structure."""

from __future__ import annotations

import pytest
import torch

from gtpo.core import conflict_mask, conflict_weights, gtpo_loss, mean_entropy, token_entropy
from gtpo.trl.trainer import CONFLICTS_KEY, WEIGHTS_KEY


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
    assert trainer.gtpo_state.state() == {"args": {}, "attributes": {"initial_entropy": 1.25}}


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
    assert metrics["clip_frac"] > 0 and trainer._metrics["train"]["gtpo/clip_frac"][0] > 0


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
