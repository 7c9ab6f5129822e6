"""The TRL internals GTPOTrainer relies on, named one by one: a TRL upgrade that changes one fails here with
the hook's name, so widening the `trl` version range is a matter of running the tests."""

from __future__ import annotations

import inspect

import pytest
import torch

from gtpo.trl.guarded import nonfinite_parameters
from trl import GRPOTrainer

# hook -> the leading parameters GTPOTrainer / GuardedGRPOTrainer call or override it with
HOOKS = {
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    "_generate_and_score_completions": ["self", "inputs"],
    "_compute_loss": ["self", "model", "inputs"],
    "_get_per_token_logps_and_entropies": ["self", "model", "input_ids", "attention_mask", "logits_to_keep"],
    "log": ["self", "logs", "start_time"],
    "_get_grad_norm": ["self", "model", "grad_norm"],
    "_save_checkpoint": ["self", "model", "trial"],
    "_get_output_dir": ["self", "trial"],
    "train": ["self"],
}
# keys of the generation batch dict that GTPOTrainer reads or adds beside TRL's
BATCH_KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "advantages")
# attributes of the trainer that GTPOTrainer reads
ATTRIBUTES = ("_metrics", "_logs", "num_generations", "reward_weights", "accelerator", "current_gradient_accumulation_steps")


@pytest.mark.parametrize("hook", list(HOOKS))
def test_hook_exists_with_its_parameters(hook):
    method = getattr(GRPOTrainer, hook, None)
    assert method is not None, f"TRL's GRPOTrainer no longer has {hook}: GTPOTrainer overrides it"
    names = list(inspect.signature(method).parameters)[: len(HOOKS[hook])]
    assert names == HOOKS[hook], f"GRPOTrainer.{hook} parameters changed: {names} (GTPOTrainer expects {HOOKS[hook]})"


def test_get_per_token_logps_and_entropies_takes_compute_entropy():
    params = inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters
    assert "compute_entropy" in params, "GTPOTrainer sets compute_entropy=True in _get_per_token_logps_and_entropies"


def test_compute_loss_reads_advantages_after_the_policy_forward_and_accepts_them_per_token():
    source = inspect.getsource(GRPOTrainer._compute_loss)
    forward = source.index("self._get_per_token_logps_and_entropies(")
    read = source.index('inputs["advantages"]')
    assert forward < read, "_compute_loss: GTPOTrainer puts A' in the batch during the policy forward; TRL must read it after"
    assert "advantages.dim() == 1" in source, "_compute_loss: TRL must accept (B, T) advantages (GTPO's A')"


def test_batch_keys_and_attributes_are_named_in_trl():
    source = inspect.getsource(GRPOTrainer)
    for key in BATCH_KEYS:
        assert f'"{key}"' in source, f"GRPOTrainer no longer uses the batch key {key!r} that GTPOTrainer reads"
    for name in ATTRIBUTES:
        assert f"self.{name}" in source or hasattr(GRPOTrainer, name), f"GRPOTrainer no longer has self.{name}"


def test_weight_check_skips_parameters_not_loaded_on_this_process():
    # FSDP's CPU-RAM-efficient loading leaves parameters on the meta device on all ranks but one
    model = torch.nn.Linear(3, 2)
    assert nonfinite_parameters(model) == []
    with torch.no_grad():
        model.bias[0] = float("nan")
    assert nonfinite_parameters(model) == ["bias"]
    meta = torch.nn.Linear(3, 2, device="meta")
    assert nonfinite_parameters(meta) == []  # .item() on a meta tensor would raise
