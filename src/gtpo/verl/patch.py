"""Where verl 0.9.1 does not hand an advantage estimator what GTPO needs, patched; and GTPO's checks
and state at the trainer's start.

GTPO needs each batch's response token ids and the token entropies; verl computes both but gives a
registered estimator only `token_level_rewards`, `response_mask`, `config` and `index` (only its
built-in GDPO also gets the batch). `install()` wraps, once, leaving verl's behaviour unchanged for
every other estimator:

1. `compute_advantage` (verl.trainer.ppo.ray_trainer, also imported by name in verl.trainer.ppo.v1.utils):
   for `adv_estimator == "gtpo"` it calls the registered estimator with `batch=data.batch` as well,
   stores the result where verl stores every estimator's (`advantages`, `returns`), drops the kept
   entropies (`gtpo_entropys`) and leaves the estimator's metrics in `data.meta_info["gtpo_metrics"]`.
2. The trainers' fetch of the batch:
   - v1 trainer (verl's default, `trainer.use_v1=True`): `_compute_advantage` reads a fixed list of
     fields from the TransferQueue; for GTPO the wrapper adds "responses" and "entropy" to that read
     and adds the `gtpo/*` metrics to the step's metrics. `compute_advantage_for_multi_trajectories`
     groups a session's rows as verl's GRPO does: A_i from each session's final row, grouped by uid,
     shared by every row of the session; the conflicts and <H>_i are each row's own.
   - legacy trainer: `_compute_old_log_prob`'s entropies ("entropys", popped by `fit` before advantages)
     are also kept as "gtpo_entropys"; `compute_data_metrics` (the step's data metrics) also returns
     the `gtpo/*` metrics of the batch.
3. The start: `verl.utils.config.validate_config` (what `main_ppo` runs before Ray starts) and both
   trainers' `__init__` (before any model loads) run `gtpo.verl.checks.check_config` and point <H>_ini's
   store at OUTPUT/gtpo_state.json (`trainer.default_local_dir`), starting empty; the trainers'
   `_load_checkpoint` restores the stored <H>_ini only when verl resumes (`resume_mode=auto` with a
   checkpoint, or `resume_path`, from the checkpoint's run folder), so a fresh run never reuses an
   old folder's value.

The upstream change that removes 1 and 2: "pass `batch` (and `non_tensor_batch`) to every registered
advantage estimator that accepts them, as GDPO already gets, and keep `entropys` / read `responses`
and `entropy` in `_compute_advantage`". docs/training.md, "GTPO on verl", says the same.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from gtpo.run.io import write_text_atomic
from gtpo.verl.estimator import STATE

NAME = "gtpo"
STATE_FILE = "gtpo_state.json"
EXTRA_FIELDS = ("responses", "entropy")
_INSTALLED: dict[str, Any] = {}


def is_gtpo(adv_estimator: Any) -> bool:
    return str(getattr(adv_estimator, "value", adv_estimator)) == NAME


def compute_gtpo_advantage(data: Any, config: Any, advantages: Any = None) -> Any:
    """What verl's `compute_advantage` does for a registered estimator, with the batch passed too;
    `advantages` (N,) gives A_i (multi-trajectory sessions) instead of grouping the rows' rewards."""
    from verl.trainer.ppo import core_algos

    if "response_mask" not in data.batch.keys():
        from verl.trainer.ppo.ray_trainer import compute_response_mask

        data.batch["response_mask"] = compute_response_mask(data)
    result, returns = core_algos.get_adv_estimator_fn(NAME)(
        token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
        config=config, index=data.non_tensor_batch.get("uid"), batch=data.batch, advantages=advantages,
    )  # fmt: skip
    data.batch["advantages"] = result
    data.batch["returns"] = returns
    if "gtpo_entropys" in data.batch.keys():
        data.batch.pop("gtpo_entropys")  # (N, T) kept only for this step
    data.meta_info["gtpo_metrics"] = dict(STATE.metrics)
    _save_state()
    return data


def _wrap_compute_advantage(original):
    @functools.wraps(original)
    def compute_advantage(data, adv_estimator, *args, **kwargs):
        if is_gtpo(adv_estimator):
            return compute_gtpo_advantage(data, kwargs.get("config"))
        return original(data, adv_estimator, *args, **kwargs)

    compute_advantage.__gtpo_patched__ = True
    return compute_advantage


# ---- <H>_ini beside the checkpoints -------------------------------------------------------------
def _start(config: Any) -> None:
    """At a trainer's start: the config checks, and an empty <H>_ini store at OUTPUT/gtpo_state.json."""
    from gtpo.verl.checks import check_config

    check_config(config)
    folder = config.trainer.get("default_local_dir")
    STATE.path = str(Path(folder) / STATE_FILE) if folder else None
    STATE.initial_entropy = None
    STATE.metrics = {}


def _resumed_from(trainer: Any) -> str | None:
    """The run folder verl resumed from after `_load_checkpoint`, or None for a fresh start."""
    if not getattr(trainer, "global_steps", 0):
        return None
    cfg = trainer.config.trainer
    if cfg.get("resume_mode") == "resume_path":
        return os.path.dirname(os.path.abspath(str(cfg.resume_from_path).rstrip("/")))
    return os.path.abspath(str(cfg.default_local_dir))


def _restore_state(trainer: Any) -> None:
    folder = _resumed_from(trainer)
    if folder is None:
        return
    path = Path(folder) / STATE_FILE
    if path.is_file():
        saved = json.loads(path.read_text()).get("initial_entropy")
        STATE.initial_entropy = None if saved is None else float(saved)
    else:
        print(f"gtpo: resumed without {path}: <H>_ini is measured again on the next batch", file=sys.stderr)


def _save_state() -> None:
    if STATE.path and STATE.initial_entropy is not None and math.isfinite(STATE.initial_entropy):
        write_text_atomic(STATE.path, json.dumps({"initial_entropy": STATE.initial_entropy}) + "\n")


def _wrap_init(original):
    @functools.wraps(original)
    def __init__(self, config, *args, **kwargs):
        if is_gtpo(config.algorithm.adv_estimator):
            _start(config)
        return original(self, config, *args, **kwargs)

    return __init__


def _wrap_load_checkpoint(original):
    @functools.wraps(original)
    def _load_checkpoint(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if is_gtpo(self.config.algorithm.adv_estimator):
            _restore_state(self)
        return out

    return _load_checkpoint


def _wrap_validate_config(original):
    @functools.wraps(original)
    def validate_config(config, *args, **kwargs):
        if is_gtpo(config.algorithm.adv_estimator):
            from gtpo.verl.checks import check_config

            check_config(config)
        return original(config, *args, **kwargs)

    return validate_config


# ---- the trainers ----------------------------------------------------------------------------------
class _ExtraFields:
    """Stands in for the `transfer_queue` module inside `_compute_advantage`: the advantage read also
    fetches `EXTRA_FIELDS`; every other call goes to the real module."""

    def __init__(self, tq: Any):
        self._tq = tq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tq, name)

    def kv_batch_get(self, *args: Any, select_fields=None, **kwargs: Any):
        if select_fields is not None and "rm_scores" in select_fields:
            select_fields = [*select_fields, *(f for f in EXTRA_FIELDS if f not in select_fields)]
        return self._tq.kv_batch_get(*args, select_fields=select_fields, **kwargs)


def _wrap_v1_compute_advantage(original, module):
    @functools.wraps(original)
    def _compute_advantage(self, batch, metrics):
        if not is_gtpo(self.config.algorithm.adv_estimator):
            return original(self, batch, metrics)
        real = module.tq
        module.tq = _ExtraFields(real)
        try:
            out = original(self, batch, metrics)
        finally:
            module.tq = real
        metrics.update(STATE.metrics)
        return out

    return _compute_advantage


def _wrap_legacy_old_log_prob(original):
    @functools.wraps(original)
    def _compute_old_log_prob(self, batch, *args, **kwargs):
        result = original(self, batch, *args, **kwargs)
        if is_gtpo(self.config.algorithm.adv_estimator):
            output = result[0] if isinstance(result, tuple) else result
            output.batch["gtpo_entropys"] = output.batch["entropys"].clone()
        return result

    return _compute_old_log_prob


def _wrap_data_metrics(original):
    @functools.wraps(original)
    def compute_data_metrics(batch, *args, **kwargs):
        metrics = original(batch, *args, **kwargs)
        return {**metrics, **batch.meta_info.get("gtpo_metrics", {})}

    return compute_data_metrics


def multi_trajectory_advantage(data: Any, batch_keys: list[str], config: Any) -> Any:
    """GTPO for v1's `compute_advantage_for_multi_trajectories`: rows keyed `{uid}_{session}_{index}`;
    as verl's GRPO, each session's A_i comes from its final row (highest index), grouped by uid over the
    final rows, and every row of the session shares it; the token advantages are each row's own."""
    import torch

    from gtpo.verl.estimator import VerlGTPOOptions, grouped_advantages, uid_group_ids

    sessions: dict[str, tuple[int, int]] = {}
    row_session = []
    for row, key in enumerate(batch_keys):
        parts = str(key).rsplit("_", 2)
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValueError(f"gtpo: batch key {key!r} is not verl's '{{uid}}_{{session_id}}_{{index}}'")
        session, index = f"{parts[0]}_{parts[1]}", int(parts[2])
        row_session.append(session)
        if session not in sessions or sessions[session][0] < index:
            sessions[session] = (index, row)
    finals = [row for _, row in sessions.values()]
    local = {session: i for i, session in enumerate(sessions)}
    scores = data.batch["token_level_rewards"].sum(dim=-1).float()[finals]  # (S,)
    uids = data.non_tensor_batch.get("uid")
    groups = uid_group_ids(None if uids is None else [uids[row] for row in finals], len(finals))
    options = VerlGTPOOptions.from_config(config)
    session_adv = grouped_advantages(scores, groups, options.scale_rewards)  # (S,)
    row_adv = session_adv[torch.tensor([local[s] for s in row_session], dtype=torch.long)]  # (N,)
    return compute_gtpo_advantage(data, config, advantages=row_adv)


def _wrap_multi_trajectories(original):
    @functools.wraps(original)
    def compute_advantage_for_multi_trajectories(data, batch_keys, adv_estimator, *args, **kwargs):
        if is_gtpo(adv_estimator):
            return multi_trajectory_advantage(data, batch_keys, kwargs.get("config"))
        return original(data, batch_keys, adv_estimator, *args, **kwargs)

    return compute_advantage_for_multi_trajectories


def install() -> None:
    """Register the "gtpo" estimator and install the wrappers (idempotent)."""
    if _INSTALLED:
        return
    from verl.trainer.ppo import core_algos, ray_trainer
    from verl.utils import config as verl_config

    from gtpo.verl.estimator import gtpo_advantages

    if NAME not in core_algos.ADV_ESTIMATOR_REGISTRY:
        core_algos.register_adv_est(NAME)(gtpo_advantages)
    _INSTALLED["compute_advantage"] = ray_trainer.compute_advantage
    ray_trainer.compute_advantage = _wrap_compute_advantage(ray_trainer.compute_advantage)
    ray_trainer.compute_data_metrics = _wrap_data_metrics(ray_trainer.compute_data_metrics)
    verl_config.validate_config = _wrap_validate_config(verl_config.validate_config)
    legacy = ray_trainer.RayPPOTrainer
    legacy.__init__ = _wrap_init(legacy.__init__)
    legacy._load_checkpoint = _wrap_load_checkpoint(legacy._load_checkpoint)
    legacy._compute_old_log_prob = _wrap_legacy_old_log_prob(legacy._compute_old_log_prob)
    with contextlib.suppress(ImportError):  # the v1 trainer (needs transfer_queue)
        from verl.trainer.ppo.v1 import trainer_base, utils

        utils.compute_advantage = ray_trainer.compute_advantage
        multi = _wrap_multi_trajectories(utils.compute_advantage_for_multi_trajectories)
        utils.compute_advantage_for_multi_trajectories = multi
        trainer_base.compute_advantage_for_multi_trajectories = multi
        base = trainer_base.PPOTrainer
        base.__init__ = _wrap_init(base.__init__)
        base._load_checkpoint = _wrap_load_checkpoint(base._load_checkpoint)
        for cls in vars(trainer_base).values():
            if isinstance(cls, type) and "_compute_advantage" in vars(cls):
                cls._compute_advantage = _wrap_v1_compute_advantage(cls._compute_advantage, trainer_base)
    _INSTALLED["done"] = True
