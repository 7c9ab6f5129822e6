"""Every loss option of TRL's GRPOConfig composes with GTPO: GTPOTrainer's loss equals TRL's own loss for
that setting fed GTPO's token advantages A' (computed independently here from a plain forward pass)."""

from __future__ import annotations

import pytest
import torch

from gtpo.core import shaped_token_advantages, token_entropy
from gtpo.trl.guarded import GuardedGRPOTrainer
from gtpo.trl.trainer import WEIGHTS_KEY, GTPOState
from tests.trl.trl_helpers import make_trainer

SETTINGS = {
    "paper defaults": {},
    "bnpo": {"loss_type": "bnpo"},
    "dr_grpo": {"loss_type": "dr_grpo"},
    "dapo": {"loss_type": "dapo"},
    "cispo": {"loss_type": "cispo", "epsilon_high": 5.0},
    "sapo": {"loss_type": "sapo"},
    "clip-higher": {"epsilon_high": 0.28},
    "delta": {"delta": 1.5},
    "sequence IS": {"importance_sampling_level": "sequence"},
    "top entropy": {"top_entropy_quantile": 0.5},
    "entropy bonus": {"entropy_coef": 0.01},
}


def expected_token_advantages(trainer, out):
    """A' from a plain forward pass of the policy (the definition, not the trainer's code path)."""
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attention = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    t = out["completion_ids"].size(1)
    with torch.no_grad():
        logits = trainer.model(input_ids=ids, attention_mask=attention).logits[:, -t - 1 : -1] / trainer.args.temperature
    entropy = token_entropy(logits)
    token_adv, *_ = shaped_token_advantages(
        out["advantages"], out["completion_mask"].bool(), out[WEIGHTS_KEY], entropy, gamma=trainer.args.entropy_gamma,
        entropy_threshold=trainer.args.entropy_threshold, initial_entropy=trainer.gtpo_state.initial_entropy,
        filter_mode=trainer.args.entropy_filter,
    )  # fmt: skip
    return token_adv


@pytest.mark.parametrize("setting", list(SETTINGS), ids=list(SETTINGS))
def test_gtpo_loss_is_trls_loss_fed_token_advantages(setting, tiny_model_dir, tmp_path, generation_inputs):
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", num_iterations=2, **SETTINGS[setting])
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(generation_inputs)
    with torch.no_grad():  # move the policy off pi_old, so that clipping and ratios matter
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))
    loss = trainer._compute_loss(trainer.model, out)
    assert out["advantages"].dim() == 1  # the buffered batch keeps A_i for the next iteration
    token_adv = expected_token_advantages(trainer, out)
    assert (token_adv != out["advantages"].unsqueeze(1) * out["completion_mask"]).any()  # A' is not A_i
    fed = {**out, "advantages": token_adv}
    expected = GuardedGRPOTrainer._compute_loss(trainer, trainer.model, fed)  # TRL's own loss, unchanged
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    again = trainer._compute_loss(trainer.model, out)  # a second iteration on the same buffered batch
    torch.testing.assert_close(again, expected, rtol=1e-5, atol=1e-6)


def test_trl_metrics_and_the_completions_table_show_gtpo_values(tiny_model_dir, tmp_path, generation_inputs):
    trainer = make_trainer(tiny_model_dir, tmp_path / "run", num_iterations=2, epsilon_high=0.28)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    out = trainer._generate_and_score_completions(generation_inputs)
    trainer._compute_loss(trainer.model, out)
    logged = trainer._metrics["train"]
    assert {"clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "entropy"} <= set(logged)
    assert list(trainer._logs["advantages"]) == out["advantages"].tolist()  # the A_i GTPO trains with
    # TRL appends its advantages (with a float residue on constant groups); the hook replaces this batch's
    trainer._logs["advantages"].extend([0.5, 1.5e-4, -1.5e-4, 1.5e-4, -1.5e-4])
    trainer._log_table_advantages(torch.zeros(4))
    assert list(trainer._logs["advantages"])[-5:] == [0.5, 0.0, 0.0, 0.0, 0.0]
    assert any(isinstance(cb, GTPOState) for cb in trainer.callback_handler.callbacks)
