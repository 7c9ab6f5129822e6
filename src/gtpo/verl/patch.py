"""The two places where verl 0.9.1 does not hand an advantage estimator what GTPO needs, patched.

GTPO needs each batch's response token ids and the token entropies; verl computes both but gives a
registered estimator only `token_level_rewards`, `response_mask`, `config` and `index` (only its
built-in GDPO also gets the batch). Two wrappers, installed once by `install()`, each leaving verl's
behaviour unchanged for every other estimator:

1. `compute_advantage` (verl.trainer.ppo.ray_trainer, also imported by name in verl.trainer.ppo.v1.utils):
   for `adv_estimator == "gtpo"` it calls the registered estimator with `batch=data.batch` as well,
   and stores the result where verl stores every estimator's (`advantages`, `returns`).
2. The trainers' fetch of the batch:
   - v1 trainer (verl's default, `trainer.use_v1=True`): `_compute_advantage` reads a fixed list of
     fields from the TransferQueue; for GTPO the wrapper adds "responses" and "entropy" to that read;
   - legacy trainer: `_compute_old_log_prob`'s entropies ("entropys", popped by `fit` before advantages)
     are also kept as "gtpo_entropys".
   Both wrappers also load and save <H>_ini in OUTPUT/gtpo_state.json (`trainer.default_local_dir`),
   so a resumed run filters as the original run would, and report the estimator's metrics.

The upstream change that removes both: "pass `batch` (and `non_tensor_batch`) to every registered
advantage estimator that accepts them, as GDPO already gets, and keep `entropys` / read `responses`
and `entropy` in `_compute_advantage`". docs/training.md, "GTPO on verl", says the same.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
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


def compute_gtpo_advantage(data: Any, config: Any) -> Any:
    """What verl's `compute_advantage` does for a registered estimator, with the batch passed too."""
    from verl.trainer.ppo import core_algos

    if "response_mask" not in data.batch.keys():
        from verl.trainer.ppo.ray_trainer import compute_response_mask

        data.batch["response_mask"] = compute_response_mask(data)
    advantages, returns = core_algos.get_adv_estimator_fn(NAME)(
        token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
        config=config, index=data.non_tensor_batch.get("uid"), batch=data.batch,
    )  # fmt: skip
    data.batch["advantages"] = advantages
    data.batch["returns"] = returns
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
def _bind_state(trainer: Any) -> None:
    """Point STATE at OUTPUT/gtpo_state.json of this trainer, loading a saved <H>_ini once."""
    folder = trainer.config.trainer.get("default_local_dir")
    if not folder:
        return
    path = str(Path(folder) / STATE_FILE)
    if STATE.path != path:
        STATE.path = path
        if os.path.isfile(path):
            saved = json.loads(Path(path).read_text()).get("initial_entropy")
            STATE.initial_entropy = None if saved is None else float(saved)


def _save_state() -> None:
    if STATE.path and STATE.initial_entropy is not None and math.isfinite(STATE.initial_entropy):
        write_text_atomic(STATE.path, json.dumps({"initial_entropy": STATE.initial_entropy}) + "\n")


def _check(trainer: Any) -> None:
    from gtpo.verl.checks import check_config

    check_config(trainer.config)


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
        _check(self)
        _bind_state(self)
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
            _check(self)
            _bind_state(self)
            output = result[0] if isinstance(result, tuple) else result
            output.batch["gtpo_entropys"] = output.batch["entropys"].clone()
        return result

    return _compute_old_log_prob


def install() -> None:
    """Register the "gtpo" estimator and install the wrappers (idempotent)."""
    if _INSTALLED:
        return
    from verl.trainer.ppo import core_algos, ray_trainer

    from gtpo.verl.estimator import gtpo_advantages

    if NAME not in core_algos.ADV_ESTIMATOR_REGISTRY:
        core_algos.register_adv_est(NAME)(gtpo_advantages)
    _INSTALLED["compute_advantage"] = ray_trainer.compute_advantage
    ray_trainer.compute_advantage = _wrap_compute_advantage(ray_trainer.compute_advantage)
    ray_trainer.RayPPOTrainer._compute_old_log_prob = _wrap_legacy_old_log_prob(
        ray_trainer.RayPPOTrainer._compute_old_log_prob
    )
    with contextlib.suppress(ImportError):  # the v1 trainer (needs transfer_queue)
        from verl.trainer.ppo.v1 import trainer_base, utils

        utils.compute_advantage = ray_trainer.compute_advantage
        for cls in vars(trainer_base).values():
            if isinstance(cls, type) and "_compute_advantage" in vars(cls):
                cls._compute_advantage = _wrap_v1_compute_advantage(cls._compute_advantage, trainer_base)
    _INSTALLED["done"] = True
