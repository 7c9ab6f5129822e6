"""gtpo.verl on verl's real functions (CPU): compute_advantage on a balanced DataProto, then verl's
vanilla loss with seq-mean-token-mean, equal to gtpo_loss; the settings GTPO refuses; <H>_ini kept."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

verl = pytest.importorskip("verl")  # runs in .venv-verl (`make test-verl`); skipped elsewhere
from omegaconf import OmegaConf  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402

import gtpo.verl  # noqa: E402,F401  (also loaded by verl's entry point)
from gtpo.core import conflict_tensors, gtpo_loss  # noqa: E402
from gtpo.verl import patch  # noqa: E402
from gtpo.verl.checks import check_config  # noqa: E402
from gtpo.verl.estimator import STATE, grouped_advantages  # noqa: E402
from verl import DataProto  # noqa: E402

G, B, T = 4, 6, 10


def make_batch(seed: int):
    """B prompts x G completions in group order: ids from a 4-token vocabulary (many shared tokens),
    1..T valid tokens each, reward 0 or 1 on the last token, entropies in [0, 1.5)."""
    rng = random.Random(seed)
    n = B * G
    lengths = [rng.randint(1, T) for _ in range(n)]
    mask = torch.tensor([[1.0 if t < length else 0.0 for t in range(T)] for length in lengths])
    ids = torch.tensor([[rng.randrange(4) for _ in range(T)] for _ in range(n)]) * mask.long()
    rewards = torch.zeros(n, T)
    for i, length in enumerate(lengths):
        rewards[i, length - 1] = float(rng.random() < 0.5)
    entropy = torch.rand(n, T, generator=torch.Generator().manual_seed(seed)) * 1.5
    prompt_mask = torch.ones(n, 3)
    data = DataProto.from_dict(
        tensors={"responses": ids, "response_mask": mask, "token_level_rewards": rewards, "entropy": entropy,
                 "attention_mask": torch.cat([prompt_mask, mask], dim=1)},
        non_tensors={"uid": np.array([f"prompt-{i // G}" for i in range(n)], dtype=object)},
    )  # fmt: skip
    return data


def balance(data: DataProto) -> torch.Tensor:
    """verl's own `_balance_batch` (2 data-parallel ranks); returns the order it gave the rows."""
    data.batch["row"] = torch.arange(len(data))
    trainer = SimpleNamespace(_get_dp_size=lambda *_: 2, actor_rollout_wg=None, use_prefix_grouper=False, config=None)
    ray_trainer.RayPPOTrainer._balance_batch(trainer, data, metrics={})
    return data.batch["row"].clone()


ACTOR = OmegaConf.create({"clip_ratio": 0.2, "clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 3.0,
                          "global_batch_info": {}})  # fmt: skip


@pytest.mark.parametrize("off_policy", [False, True])
@pytest.mark.parametrize("gtpo_options", [{}, {"gtpo_variant": "reference_code"}, {"conflict_scope": "all"}],
                         ids=["paper", "reference_code", "scope_all"])  # fmt: skip
def test_compute_advantage_then_vanilla_loss_equals_gtpo_loss(gtpo_options, off_policy):
    STATE.initial_entropy = None
    for seed in range(4):
        data = make_batch(seed)
        reference = make_batch(seed)  # the same rows in group order
        order = balance(data)
        assert not torch.equal(order, torch.arange(len(order)))  # balancing moved rows, splitting groups
        config = OmegaConf.create({"adv_estimator": "gtpo", "gtpo": {"initial_entropy": 0.9, **gtpo_options}})
        data = ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=config)
        logps = -torch.rand(B * G, T, generator=torch.Generator().manual_seed(50 + seed)) - 0.1
        old = logps + (0.2 * torch.randn(logps.shape, generator=torch.Generator().manual_seed(seed)) if off_policy else 0)
        lp = logps[order].clone().requires_grad_(True)
        loss_fn = core_algos.get_policy_loss_fn("vanilla")
        loss, _ = loss_fn(old[order], lp, data.batch["advantages"], data.batch["response_mask"],
                          loss_agg_mode="seq-mean-token-mean", config=ACTOR)  # fmt: skip
        loss.backward()
        # gtpo_loss on the group-ordered batch with the same options
        rb = reference.batch
        variant = gtpo_options.get("gtpo_variant", "paper")
        ref_code = variant == "reference_code"
        scores = rb["token_level_rewards"].sum(-1)
        adv = grouped_advantages(scores, torch.arange(B * G) // G, "none" if ref_code else "group")
        weights, conflicts, counts = conflict_tensors(
            rb["responses"], rb["response_mask"], adv, G, scope=gtpo_options.get("conflict_scope", "prefix_suffix"),
            combine="product" if ref_code else "union", count="reference_code" if ref_code else None,
        )  # fmt: skip
        lp_ref = logps.clone().requires_grad_(True)
        expected, _ = gtpo_loss(lp_ref, adv, rb["response_mask"], weights, rb["entropy"],
                                old_logps=old if off_policy else None, initial_entropy=0.9,
                                entropy_threshold=0.7 if ref_code else 0.6931471805599453,
                                filter_mode="always" if ref_code else "auto", conflict_mask=conflicts,
                                normalize_by_conflicts=ref_code, conflict_counts=counts)  # fmt: skip
        expected.backward()
        torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(lp.grad, lp_ref.grad[order], rtol=1e-4, atol=1e-7)


def test_v1_multi_trajectory_entry_reaches_the_estimator():
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    data = make_batch(0)
    keys = [f"u{i // G}_0_0" for i in range(len(data))]
    out = compute_advantage_for_multi_trajectories(data, batch_keys=keys, adv_estimator="gtpo",
                                                   config=OmegaConf.create({"gtpo": {"initial_entropy": 0.9}}))  # fmt: skip
    assert out.batch["advantages"].shape == (B * G, T) and out.batch["advantages"].abs().sum() > 0


def test_v1_advantage_read_also_fetches_ids_and_entropy():
    seen = {}

    class FakeTQ:
        def kv_batch_get(self, keys=None, partition_id=None, select_fields=None):
            seen.setdefault("fields", []).append(list(select_fields))
            return "data"

    module = SimpleNamespace(tq=FakeTQ())

    def original(self, batch, metrics):
        module.tq.kv_batch_get(keys=[1], partition_id="train", select_fields=["uid", "response_mask", "rm_scores"])
        module.tq.kv_batch_get(keys=[1], partition_id="train", select_fields=["old_log_probs"])
        return batch

    wrapped = patch._wrap_v1_compute_advantage(original, module)
    cfg = verl_config()
    trainer = SimpleNamespace(config=cfg)
    wrapped(trainer, "batch", {})
    assert seen["fields"] == [["uid", "response_mask", "rm_scores", "responses", "entropy"], ["old_log_probs"]]
    assert isinstance(module.tq, FakeTQ)  # the real module is put back
    cfg.algorithm.adv_estimator = "grpo"
    seen.clear()
    wrapped(SimpleNamespace(config=cfg), "batch", {})
    assert seen["fields"][0] == ["uid", "response_mask", "rm_scores"]  # other estimators: unchanged


def verl_config():
    import os

    path = os.path.join(os.path.dirname(verl.__file__), "trainer", "config", "_generated_ppo_trainer.yaml")
    config = OmegaConf.load(path)
    config.algorithm.adv_estimator = "gtpo"
    config.actor_rollout_ref.actor.loss_agg_mode = "seq-mean-token-mean"
    config.trainer.default_local_dir = None
    return config


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("actor_rollout_ref.actor.loss_agg_mode", "token-mean", "loss_agg_mode='token-mean'.*seq-mean-token-mean"),
        ("actor_rollout_ref.actor.use_kl_loss", True, "use_kl_loss=True.*no KL term"),
        ("actor_rollout_ref.actor.policy_loss.loss_mode", "gspo", "loss_mode='gspo'.*vanilla"),
        ("algorithm.use_kl_in_reward", True, "use_kl_in_reward"),
        ("actor_rollout_ref.actor.entropy_coeff", 0.01, "entropy_coeff"),
        ("algorithm.gtpo", {"positiv_weight": 2.0}, "unknown key.*positiv_weight"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(key, value, match):
    config = verl_config()
    check_config(config)  # verl's defaults plus the two GTPO settings pass
    OmegaConf.update(config, key, value, force_add=True)
    with pytest.raises(ValueError, match=match):
        check_config(config)


def test_missing_uid_or_ids_is_a_clear_error():
    data = make_batch(0)
    del data.non_tensor_batch["uid"]
    with pytest.raises(ValueError, match="uid"):
        ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=OmegaConf.create({}))
    data = make_batch(0)
    data.batch.pop("entropy")
    with pytest.raises(ValueError, match="entropies"):
        ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=OmegaConf.create({}))


def test_initial_entropy_is_measured_once_saved_and_restored_only_on_resume(tmp_path):
    config = verl_config()
    config.trainer.default_local_dir = str(tmp_path)
    patch._start(config)
    data = make_batch(1)
    ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=OmegaConf.create({}))
    mask = data.batch["response_mask"]
    per_row = (data.batch["entropy"] * mask).sum(1) / mask.sum(1)
    assert STATE.initial_entropy == pytest.approx(float(per_row.mean()), rel=1e-6)  # mean over completions
    first = STATE.initial_entropy
    ray_trainer.compute_advantage(make_batch(2), adv_estimator="gtpo", config=OmegaConf.create({}))
    assert STATE.initial_entropy == first  # measured once
    patch._start(config)  # a new trainer on the same folder starts empty ...
    assert STATE.initial_entropy is None
    patch._restore_state(SimpleNamespace(config=config, global_steps=0))  # ... and a fresh start reads nothing
    assert STATE.initial_entropy is None
    patch._restore_state(SimpleNamespace(config=config, global_steps=4))  # resume_mode=auto found a checkpoint
    assert STATE.initial_entropy == first
    STATE.initial_entropy = None
    config.trainer.resume_mode = "resume_path"  # another run's checkpoint: its own folder's value
    config.trainer.resume_from_path = str(tmp_path / "global_step_4")
    config.trainer.default_local_dir = str(tmp_path / "elsewhere")
    patch._restore_state(SimpleNamespace(config=config, global_steps=4))
    assert STATE.initial_entropy == first


def test_legacy_trainer_keeps_the_entropies_until_the_advantages_then_drops_them():
    def original(self, batch):
        return DataProto.from_dict({"old_log_probs": torch.zeros(2, 3), "entropys": torch.ones(2, 3)}), 0.0

    wrapped = patch._wrap_legacy_old_log_prob(original)
    out, _ = wrapped(SimpleNamespace(config=verl_config()), None)
    out.batch.pop("entropys")  # what the legacy fit does before computing advantages
    assert torch.equal(out.batch["gtpo_entropys"], torch.ones(2, 3))
    data = make_batch(0)
    data.batch["gtpo_entropys"] = data.batch.pop("entropy")
    data = ray_trainer.compute_advantage(data, adv_estimator="gtpo", config=OmegaConf.create({}))
    assert "gtpo_entropys" not in data.batch.keys()
    data_metrics = patch._wrap_data_metrics(lambda batch, use_critic: {"critic/score/mean": 1.0})
    metrics = data_metrics(batch=data, use_critic=False)  # verl's step metrics, then the estimator's
    assert metrics["critic/score/mean"] == 1.0 and "gtpo/conflict_frac_pos" in metrics
    assert metrics["gtpo/filtered_frac"] == data.meta_info["gtpo_metrics"]["gtpo/filtered_frac"]


@pytest.mark.parametrize("algo", ["gtpo", "grpo"])
def test_the_verl_recipe_composes_and_passes_the_checks(algo, monkeypatch):
    import os
    import sys

    from hydra import compose, initialize_config_dir

    recipe = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "verl", "gsm8k-qwen2.5-3b.overrides")
    lines = [line.strip() for line in open(recipe) if line.strip() and not line.strip().startswith("#")]
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        config = compose(config_name="ppo_trainer", overrides=[*lines, f"algorithm.adv_estimator={algo}"])
    assert config.actor_rollout_ref.actor.loss_agg_mode == "seq-mean-token-mean"  # the same for GTPO and GRPO
    assert (config.actor_rollout_ref.model.lora_rank, config.actor_rollout_ref.rollout.n) == (128, 8)
    check_config(config)
    # verl's own start-up validation (what main_ppo runs before Ray starts), with GTPO's checks inside it
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils import config as verl_config_module

    validate = verl_config_module.validate_config
    assert validate.__wrapped__ is not None  # gtpo.verl.patch wraps it
    # its last step asks vLLM (not installable on CPU) for the largest LoRA rank: a stand-in answers
    lora_ranks = []
    vllm_utils = SimpleNamespace(get_vllm_max_lora_rank=lora_ranks.append)
    monkeypatch.setitem(sys.modules, "verl.workers.rollout.vllm_rollout", SimpleNamespace(utils=vllm_utils))
    monkeypatch.setitem(sys.modules, "verl.workers.rollout.vllm_rollout.utils", vllm_utils)
    validate(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    assert lora_ranks == [128]  # verl's validation ran to its end
    if algo == "gtpo":
        OmegaConf.update(config, "actor_rollout_ref.actor.loss_agg_mode", "token-mean")
        with pytest.raises(ValueError, match="loss_agg_mode='token-mean'"):
            validate(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
