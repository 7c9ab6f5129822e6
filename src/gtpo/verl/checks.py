"""What GTPO on verl requires of the verl config, checked when the trainer starts (before any model loads).

GTPO's objective is the stock PPO-clip token loss over its token advantages, aggregated as "mean over
each completion's tokens, then over completions", with no KL term and no entropy bonus:
    actor_rollout_ref.actor.policy_loss.loss_mode  vanilla
    actor_rollout_ref.actor.loss_agg_mode          seq-mean-token-mean
    actor_rollout_ref.actor.use_kl_loss            false
    algorithm.use_kl_in_reward                     false
    actor_rollout_ref.actor.entropy_coeff          0
Each violation is an error naming the key, the value and the fix.
"""

from __future__ import annotations

from typing import Any

REQUIRED = {
    "actor_rollout_ref.actor.policy_loss.loss_mode": ("vanilla", "GTPO's token advantages feed verl's stock PPO-clip loss"),
    "actor_rollout_ref.actor.loss_agg_mode": ("seq-mean-token-mean", "GTPO averages each completion's tokens, then the completions"),
    "actor_rollout_ref.actor.use_kl_loss": (False, "GTPO has no KL term and needs no reference model"),
    "algorithm.use_kl_in_reward": (False, "GTPO has no KL term and needs no reference model"),
    "actor_rollout_ref.actor.entropy_coeff": (0, "GTPO shapes the advantage with algorithm.gtpo.entropy_gamma instead of an entropy bonus"),
}  # fmt: skip


def _select(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        node = node.get(part) if hasattr(node, "get") else getattr(node, part, None)
        if node is None:
            return None
    return node


def check_config(config: Any) -> None:
    """Raise ValueError naming the first key whose value GTPO cannot run with (see the module docstring)."""
    from gtpo.verl.estimator import VerlGTPOOptions

    for key, (wanted, why) in REQUIRED.items():
        value = _select(config, key)
        if value is not None and value != wanted:
            shown = str(wanted).lower() if isinstance(wanted, bool) else wanted
            raise ValueError(f"{key}={value!r}: GTPO needs {key}={shown} ({why}); set it, or train GRPO with "
                             "algorithm.adv_estimator=grpo")  # fmt: skip
    VerlGTPOOptions.from_config(_select(config, "algorithm"))  # the gtpo section's keys and variant
