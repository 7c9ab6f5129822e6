"""GTPO inside verl 0.9.1's real trainer loop on CPU: the legacy `RayPPOTrainer.fit()` with stand-ins only
for the GPU parts (tests/verl/fit_parts.py), run for two steps, resumed, and restarted fresh; and the v1
trainer's balance -> old-log-prob -> advantage steps against a real TransferQueue on local Ray."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import torch

verl = pytest.importorskip("verl")  # runs in .venv-verl (`make test-verl`); skipped elsewhere
from omegaconf import OmegaConf  # noqa: E402
from verl.trainer.ppo import ray_trainer  # noqa: E402
from verl.trainer.ppo.utils import Role  # noqa: E402
from verl.utils import tracking  # noqa: E402

import gtpo.verl  # noqa: E402,F401
from gtpo.core import group_advantages, token_advantages  # noqa: E402
from gtpo.verl.estimator import STATE  # noqa: E402
from tests.verl import fit_parts  # noqa: E402

N_PROMPTS, G, PROMPT_LEN, RESPONSE_LEN = 2, 4, 48, 8


def fit_config(folder, data_file, steps, resume_mode="disable"):
    path = os.path.join(os.path.dirname(verl.__file__), "trainer", "config", "_generated_ppo_trainer.yaml")
    config = OmegaConf.load(path)
    values = {
        "algorithm.adv_estimator": "gtpo",
        "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-mean",
        "actor_rollout_ref.actor.ppo_mini_batch_size": N_PROMPTS,
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": N_PROMPTS * G,
        "actor_rollout_ref.rollout.n": G,
        "data.train_files": data_file, "data.val_files": data_file, "data.train_batch_size": N_PROMPTS,
        "data.max_prompt_length": PROMPT_LEN, "data.max_response_length": RESPONSE_LEN,
        "data.dataloader_num_workers": 0, "data.filter_overlong_prompts": False, "data.shuffle": False,
        "trainer.use_v1": False, "trainer.total_training_steps": steps, "trainer.total_epochs": 10,
        "trainer.save_freq": 1, "trainer.test_freq": -1, "trainer.val_before_train": False,
        "trainer.default_local_dir": str(folder), "trainer.resume_mode": resume_mode, "trainer.logger": ["console"],
        "trainer.balance_batch": True, "trainer.device": "cpu",
    }  # fmt: skip
    for key, value in values.items():
        OmegaConf.update(config, key, value, force_add=True)
    return config


@pytest.fixture(scope="module")
def tiny():
    from gtpo.demo.tiny import TinySize, build_model, build_tokenizer

    tokenizer = build_tokenizer()
    size = TinySize(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    return tokenizer, build_model(tokenizer, seed=0, size=size)


def run_fit(config, tiny, monkeypatch):
    """verl's fit with the stand-ins; returns what reached the logger, the advantage step and the actor."""
    tokenizer, model = tiny
    logged, seen = [], []
    monkeypatch.setattr(tracking.Tracking, "log", lambda self, data, step, **kw: logged.append((step, dict(data))))
    patched = ray_trainer.compute_advantage

    def spy(data, adv_estimator, *args, **kwargs):
        before = {k: data.batch[k].clone() for k in ("responses", "response_mask", "token_level_rewards")}
        before["uid"] = list(data.non_tensor_batch["uid"])
        before["kept_entropies"] = "gtpo_entropys" in data.batch.keys()
        out = patched(data, adv_estimator, *args, **kwargs)
        before["advantages"] = out.batch["advantages"].clone()
        before["keys_after"] = set(out.batch.keys())
        seen.append(before)
        return out

    monkeypatch.setattr(ray_trainer, "compute_advantage", spy)
    trainer = ray_trainer.RayPPOTrainer(config, tokenizer, role_worker_mapping={Role.ActorRollout: object},
                                        resource_pool_manager=SimpleNamespace(get_n_gpus=lambda: 1))  # fmt: skip
    workers = fit_parts.ActorWorkers(model, config.actor_rollout_ref.actor)
    workers._dispatch_info = {"actor": [0, 1]}  # two data-parallel ranks for _balance_batch
    trainer.actor_rollout_wg = workers
    rollout = fit_parts.Rollout(model, tokenizer, PROMPT_LEN, RESPONSE_LEN)
    trainer.async_rollout_manager = rollout
    trainer.checkpoint_manager = fit_parts.CheckpointManager()
    trainer.fit()
    for step, generated in zip(seen, rollout.generated, strict=True):
        step["generated"] = generated
    return logged, seen, workers


def expected_advantages(step: dict, entropy: torch.Tensor, initial: float) -> torch.Tensor:
    """A' recomputed from the batch as verl ordered it: A_i per uid with gtpo.core.group_advantages,
    then gtpo.core.token_advantages with the paper's defaults."""
    uids = step["uid"]
    scores = step["token_level_rewards"].sum(-1)
    adv = torch.zeros(len(uids))
    for uid in set(uids):
        rows = [i for i, u in enumerate(uids) if u == uid]
        adv[rows] = group_advantages(scores[rows], len(rows))
    ids = torch.tensor([sorted(set(uids)).index(u) for u in uids])
    out, _ = token_advantages(step["responses"], step["response_mask"], adv, entropy, ids, initial_entropy=initial)
    return out


def mean_entropy_of(entropy, mask):
    return float(((entropy * mask).sum(1) / mask.sum(1)).mean())


def test_fit_runs_gtpo_for_two_steps_then_resumes(tmp_path, tiny, monkeypatch):
    data_file = str(tmp_path / "train.parquet")
    fit_parts.write_prompts(data_file, 6)
    folder = tmp_path / "run"
    logged, seen, workers = run_fit(fit_config(folder, data_file, steps=2), tiny, monkeypatch)

    assert [s for s, _ in logged] == [1, 2] and len(seen) == 2 and len(workers.update_calls) == 2
    first_entropy = workers.log_prob_calls[0]["entropy"]
    initial = mean_entropy_of(first_entropy, seen[0]["response_mask"])  # <H>_ini: the first batch's mean
    for step, call, update in zip(seen, workers.log_prob_calls, workers.update_calls, strict=True):
        assert step["kept_entropies"] and "gtpo_entropys" not in step["keys_after"]  # dropped once used
        assert not torch.equal(step["responses"], step["generated"])  # _balance_batch reordered the rows
        assert step["uid"] != sorted(step["uid"], key=step["uid"].index)  # ... and split the groups
        assert len({float(r.sum()) for r in step["token_level_rewards"]}) > 1  # mixed rewards
        expected = expected_advantages(step, call["entropy"], initial)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(step["advantages"], expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(update["advantages"].to_padded_tensor(0.0) if update["advantages"].is_nested
                                   else update["advantages"], expected, rtol=1e-5, atol=1e-6)  # fmt: skip
    for _, metrics in logged:  # the gtpo/* metrics reach verl's logger at every step
        assert {"gtpo/filtered_frac", "gtpo/conflict_frac_pos", "gtpo/completion_entropy"} <= set(metrics)
        assert metrics["gtpo/initial_entropy"] == pytest.approx(initial, rel=1e-6)  # measured once
    saved = json.loads((folder / "gtpo_state.json").read_text())["initial_entropy"]
    assert saved == pytest.approx(initial, rel=1e-6)
    assert (folder / "global_step_2" / "actor" / "model.pt").is_file()

    # resume (resume_mode=auto finds global_step_2): <H>_ini is restored, not measured again
    STATE.initial_entropy = None
    logged, seen, workers = run_fit(fit_config(folder, data_file, steps=3, resume_mode="auto"), tiny, monkeypatch)
    assert [s for s, _ in logged] == [3]
    assert logged[0][1]["gtpo/initial_entropy"] == saved
    assert mean_entropy_of(workers.log_prob_calls[0]["entropy"], seen[0]["response_mask"]) != pytest.approx(saved)
    torch.testing.assert_close(seen[0]["advantages"], expected_advantages(seen[0], workers.log_prob_calls[0]["entropy"],
                                                                          saved), rtol=1e-5, atol=1e-6)  # fmt: skip


def test_fit_fresh_run_into_an_old_folder_measures_its_own_initial_entropy(tmp_path, tiny, monkeypatch):
    data_file = str(tmp_path / "train.parquet")
    fit_parts.write_prompts(data_file, 4)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "gtpo_state.json").write_text(json.dumps({"initial_entropy": 5.0}))  # an older run's value
    logged, seen, workers = run_fit(fit_config(folder, data_file, steps=1), tiny, monkeypatch)  # resume_mode=disable
    measured = mean_entropy_of(workers.log_prob_calls[0]["entropy"], seen[0]["response_mask"])
    assert logged[0][1]["gtpo/initial_entropy"] == pytest.approx(measured, rel=1e-6)
    assert json.loads((folder / "gtpo_state.json").read_text())["initial_entropy"] == pytest.approx(measured, rel=1e-6)


def test_fit_refuses_a_bad_setting_before_any_model_loads(tmp_path, tiny):
    data_file = str(tmp_path / "train.parquet")
    fit_parts.write_prompts(data_file, 2)
    config = fit_config(tmp_path / "run", data_file, steps=1)
    config.actor_rollout_ref.actor.loss_agg_mode = "token-mean"
    with pytest.raises(ValueError, match="loss_agg_mode='token-mean'"):  # in __init__, before init_workers
        ray_trainer.RayPPOTrainer(config, tiny[0], role_worker_mapping={Role.ActorRollout: object},
                                  resource_pool_manager=SimpleNamespace(get_n_gpus=lambda: 1))  # fmt: skip


def test_fit_v1_advantage_step_on_a_real_transfer_queue(tmp_path, local_ray):
    """v1 (`trainer.use_v1=true`, verl's default): rows put in a real TransferQueue as verl's agent loop
    puts them; verl's own `_balance_batch` (which upsamples 9 rows to 12 with `pad` rows),
    `_compute_old_log_prob` (the worker's log-prob call is the stand-in) and `_compute_advantage`."""
    import random

    import transfer_queue as tq
    from tensordict import TensorDict
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    config = fit_config(tmp_path / "v1", "unused.parquet", steps=1)
    for key, value in {"trainer.use_v1": True, "actor_rollout_ref.rollout.n": 3, "transfer_queue.enable": True,
                       "transfer_queue.backend.SimpleStorage.num_data_storage_units": 1}.items():  # fmt: skip
        OmegaConf.update(config, key, value, force_add=True)
    tq.init(config.transfer_queue)
    try:
        rng = random.Random(0)
        keys, rows, tags = [], [], []
        for p in range(3):  # 3 prompts x 3 sessions, keys as verl's agent loop writes them
            for session in range(3):
                plen, rlen = rng.randint(3, 6), rng.randint(1, 6)
                prompts = torch.tensor([rng.randrange(1, 20) for _ in range(plen)])
                responses = torch.tensor([rng.randrange(3) for _ in range(rlen)])
                scores = torch.zeros(rlen)
                scores[-1] = float(session == 0 or rng.random() < 0.5)
                ids = torch.cat([prompts, responses])
                keys.append(f"p{p}_{session}_0")
                rows.append({"uid": f"p{p}", "prompts": prompts, "responses": responses, "input_ids": ids,
                             "response_mask": torch.ones(rlen, dtype=torch.int64), "rm_scores": scores,
                             "attention_mask": torch.ones_like(ids), "position_ids": torch.arange(len(ids)),
                             "rollout_log_probs": -torch.rand(rlen)})  # fmt: skip
                tags.append({"status": "success", "prompt_len": plen, "response_len": rlen, "seq_len": plen + rlen,
                             "global_steps": 1})  # fmt: skip
        batch = tq.kv_batch_put(keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(rows), tags=tags)

        class LogProbWorkers:  # the actor worker group's log-prob call: full-sequence nested outputs into TQ
            _dispatch_info = {"actor": [0, 1]}

            def compute_log_prob(self, meta):
                ids = tq.kv_batch_get(keys=meta.keys, partition_id=meta.partition_id, select_fields=["input_ids"])
                seqs = ids["input_ids"].unbind()
                gen = torch.Generator().manual_seed(1)
                out = {name: torch.nested.as_nested_tensor([scale * torch.rand(len(x), generator=gen) for x in seqs],
                                                           layout=torch.jagged)
                       for name, scale in (("entropy", 1.5), ("log_probs", -1.0))}  # fmt: skip
                return tq.kv_batch_put(keys=meta.keys, partition_id=meta.partition_id,
                                       fields=TensorDict(out, batch_size=len(meta)))  # fmt: skip

        trainer = PPOTrainerSync(config)  # GTPO's checks and <H>_ini store at the start
        trainer.actor_rollout_wg = LogProbWorkers()
        trainer.tokenizer = SimpleNamespace(eos_token_id=2)
        trainer.global_steps = 1
        metrics = {}
        batch = trainer._balance_batch(batch, metrics)
        assert len(batch) == 12 and sum(k.startswith("pad") for k in batch.keys) == 3  # lcm(2 ranks, 2 x 3) = 6
        batch = trainer._compute_old_log_prob(batch, metrics)
        batch = trainer._compute_advantage(batch, metrics)
        got = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id,
                              select_fields=["advantages", "uid", "responses", "response_mask", "entropy", "rm_scores"])  # fmt: skip
    finally:
        tq.close()
    padded = {k: got[k].to_padded_tensor(0) for k in ("advantages", "responses", "response_mask", "entropy", "rm_scores")}
    uids = list(got["uid"])
    step = {"uid": uids, "responses": padded["responses"], "response_mask": padded["response_mask"].float(),
            "token_level_rewards": padded["rm_scores"]}  # fmt: skip
    real = torch.tensor([not u.startswith("pad") for u in uids])
    mask = step["response_mask"]
    initial = float(((padded["entropy"] * mask).sum(1)[real] / mask.sum(1)[real]).mean())  # over the non-empty rows
    expected = expected_advantages(step, padded["entropy"].float(), initial)
    assert uids != sorted(uids, key=uids.index)  # the balancing split the groups
    assert expected[real].abs().sum() > 0 and torch.equal(padded["advantages"][~real], torch.zeros_like(expected[~real]))
    torch.testing.assert_close(padded["advantages"].float(), expected, rtol=1e-5, atol=1e-6)
    assert metrics["gtpo/initial_entropy"] == pytest.approx(initial, rel=1e-6) and "gtpo/filtered_frac" in metrics
    saved = json.loads((tmp_path / "v1" / "gtpo_state.json").read_text())["initial_entropy"]
    assert saved == pytest.approx(initial, rel=1e-6)
