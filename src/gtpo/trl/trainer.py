"""GTPOTrainer: GTPO (docs/spec.md) on TRL's GRPOTrainer, tested against trl 1.16.

Algorithm, per generation batch (G completions per prompt, A_i group-relative as in GRPO):
1. conflict weights lambda_{i,t}: a token is a conflict when the same id stands at the same position
   (from the start, or from the end) in a positive and a negative completion of its group; weight w in
   positive completions (w^2 inside both runs with conflict_combine 'product'), 0 in negative ones, 1
   elsewhere (`gtpo.core.conflict_weights`); with normalize_by_conflicts, each row's conflict count
   (`gtpo.core.conflict_counts`, `conflict_count`) travels with it as the loss's extra divisor;
2. entropy filter delta_i and shaped advantage A_i - gamma * <H>_i, with <H>_i the completion's mean
   token entropy taken from the same forward pass as the log-probabilities;
3. the token advantages A'_{i,t} = delta_i * Ahat_i * lambda_{i,t} (`gtpo.core.shaped_token_advantages`,
   the one definition every engine uses), fed to TRL's own loss: with the defaults (loss_type 'grpo',
   symmetric clip) that is -(1/N) sum_i 1/|o_i| sum_t min(r A', clip(r) A'), GTPO's objective exactly
   (docs/algorithm.md); TRL's other loss types, clip-higher, delta, sequence-level importance sampling,
   top-entropy masking and the entropy bonus apply to A' as TRL documents them. No KL term, no
   reference model.

How it sits in TRL: TRL generates and scores a generation batch per process, gathers the rewards,
computes advantages, then SHUFFLES the batch and splits it into micro-batches, and one prompt's group
may sit on two processes. Conflict weights need whole groups, so `_generate_and_score_completions`
gathers completion ids, masks and advantages from all processes (groups are consecutive rows in the
gathered order: TRL's RepeatSampler yields each prompt G times in a row, accelerate hands process p the
p-th slice of each global batch, and TRL itself groups the gathered rewards the same way), computes
the weights over the global batch, keeps this process's rows and returns them as a (B, T) tensor,
which TRL's shuffle and split carry along with the other per-row tensors.

Advantages are TRL's, with the precision rule of `gtpo.core.constant_groups`: every row of a group
whose rewards are all equal gets A = 0 exactly (TRL's R - mean leaves a rounding residue of either sign,
which would decide whether `entropy_filter: negative_only` drops the group and which of its tokens are
"conflicts").

Tool use (TRL's `tool_mask`, 0 on tool-output tokens inside a completion): conflicts are found on the
completion's token positions (`completion_mask`, tool tokens included), so the forward and backward
alignments count positions in the sequence the model actually saw and a shared prefix is not cut by a
tool call; tool-output tokens themselves carry no loss weight (the loss, <H>_i, the logged entropy and
the conflict shares all use `completion_mask * tool_mask`), as in TRL's GRPO.

<H>_ini: the mean completion entropy of the first training micro-batch, averaged over all processes;
kept in `GTPOState`, a callback whose state transformers writes to every checkpoint's
trainer_state.json, so a resumed run filters exactly as the original run would have.

Logged metrics: `entropy` is TRL's statistic (the token-weighted mean entropy of each micro-batch over
all processes), so GTPO and GRPO runs log the same number for the same completions; the mean over
completions of <H>_i, the quantity behind <H>_ini and the filter, is `gtpo/completion_entropy`.
`gtpo/conflict_frac_pos` / `_neg` are ratios of summed counts over the whole logging window and all
processes (conflict tokens / valid tokens of the rows with A > 0 / A < 0); a window without such rows
logs no value.

Departures from the paper: conflict set = forward UNION backward conflicts (the reference code
multiplies the two weights); with num_iterations > 1 the ratio r_{i,t} is PPO-clipped with
`epsilon` (an extension; the paper is on-policy, r = 1 with the gradient flowing through it).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ExportableState

from gtpo.core import conflict_tensors, constant_groups, mean_entropy, shaped_token_advantages
from gtpo.core.token_advantages import finish, metric_sums
from gtpo.trl.config import REFUSED, GTPOConfig, check_refused
from gtpo.trl.guarded import GuardedGRPOTrainer

WEIGHTS_KEY = "gtpo_weights"  # (B, T) float, lambda_{i,t}
CONFLICTS_KEY = "gtpo_conflicts"  # (B, T) bool, conflict tokens
COUNTS_KEY = "gtpo_conflict_counts"  # (B,) float, divisor of normalize_by_conflicts (conflict_count)
# conflict-share name -> (numerator, denominator) counts summed over the logging window
SHARES = {
    "conflict_frac_pos": ("conflict_tokens_pos", "valid_tokens_pos"),
    "conflict_frac_neg": ("conflict_tokens_neg", "valid_tokens_neg"),
}
COUNT_PREFIX = "gtpo/_count/"  # private _metrics keys, turned into the shares by `log`


class GTPOState(TrainerCallback, ExportableState):
    """Checkpointed GTPO state: the initial mean completion entropy <H>_ini (None until measured) and the
    step at which the collapse monitor warned (None until it does), so a resumed run neither re-measures
    <H>_ini nor warns again."""

    def __init__(self, initial_entropy: float | None = None, collapse_step: int | None = None):
        self.initial_entropy = initial_entropy
        self.collapse_step = collapse_step

    def state(self) -> dict:
        return {"args": {}, "attributes": {"initial_entropy": self.initial_entropy, "collapse_step": self.collapse_step}}

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        # On resume, transformers has loaded trainer_state.json into `state` before this event.
        saved = state.stateful_callbacks.get(type(self).__name__)
        if isinstance(saved, dict):
            attributes = saved.get("attributes", {})
            if attributes.get("initial_entropy") is not None:
                self.initial_entropy = float(attributes["initial_entropy"])
            if attributes.get("collapse_step") is not None:
                self.collapse_step = int(attributes["collapse_step"])


class GTPOTrainer(GuardedGRPOTrainer):
    """GRPOTrainer with the GTPO objective, plus the run guards of `GuardedGRPOTrainer` (atomic checkpoints,
    guarded reward functions, skipped non-finite updates; its hooks are named in its docstring).

    Overridden hooks (nothing else changes; generation, rewards, vLLM, PEFT are TRL's):
    - `__init__` and `train`: check the config again (`GTPOConfig.check`, and the refused settings TRL's
      trainer copied onto itself), so a refused option set after the config was built is refused too;
    - `_calculate_rewards`: keeps the gathered rewards of the generation batch (to find constant groups);
    - `_generate_and_score_completions`: sets A = 0 exactly on constant-reward groups and adds the
      per-token conflict weights and conflict mask of each row, computed over whole groups of the
      globally gathered batch;
    - `_compute_loss` and `_get_per_token_logps_and_entropies`: TRL's own loss, fed GTPO's token
      advantages A' (`gtpo.core.shaped_token_advantages`) computed from the entropies of its policy
      forward pass; <H>_ini measured on the first batch; GTPO's metrics logged through TRL's `_metrics`;
    - `log`: turns the summed conflict counts of the logging window into the logged conflict shares.
    """

    _tag_names = ["trl", "gtpo"]

    def __init__(self, model: Any, reward_funcs: Any, args: GTPOConfig | None = None, **kwargs: Any):
        if args is None:
            raise ValueError("GTPOTrainer needs args=GTPOConfig(...): its fields define the GTPO objective.")
        if not isinstance(args, GTPOConfig):
            raise TypeError(f"GTPOTrainer needs a GTPOConfig, got {type(args).__name__}; use GRPOTrainer for GRPO.")
        args.check()  # a field changed after the config was built gets the constructor's error
        callbacks = [*(kwargs.pop("callbacks", None) or []), GTPOState()]
        super().__init__(model, reward_funcs, args=args, callbacks=callbacks, **kwargs)
        if args.variant_overrides and self.accelerator.is_main_process:
            overrides = ", ".join(f"{k}={v!r}" for k, v in args.variant_overrides.items())
            print(f"[gtpo] gtpo_variant={args.gtpo_variant!r}: explicit settings override the variant's defaults: "
                  f"{overrides}", file=sys.stderr)  # fmt: skip
        if self.ref_model is not None:  # GTPOConfig forbids beta != 0; a guard against future TRL defaults
            raise RuntimeError("GTPO must not load a reference model; check that beta is 0.")
        self.latest_conflict_sample: dict | None = None

    def train(self, *args: Any, **kwargs: Any):
        self.args.check()
        check_refused({name: getattr(self, name) for name in REFUSED if hasattr(self, name)})  # TRL's copies
        return super().train(*args, **kwargs)

    @property
    def gtpo_state(self) -> GTPOState:
        """The live GTPOState callback (looked up: transformers may replace it when restoring callbacks)."""
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, GTPOState):
                return callback
        raise RuntimeError("the GTPOState callback was removed; GTPOTrainer keeps <H>_ini in it")

    # ----------------------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list) -> torch.Tensor:
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._gathered_rewards = rewards_per_func  # (N, K), all processes, groups consecutive
        return rewards_per_func

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        output["advantages"] = self._zero_constant_groups(output["advantages"], group_size)
        self._log_table_advantages(output["advantages"])
        return self._add_conflict_weights(output, mode)

    def _log_table_advantages(self, advantages: torch.Tensor) -> None:
        """The completions table (`log_completions`) shows the group advantage A_i before GTPO's shaping
        (constant groups at exactly 0, not TRL's residue): replace the entries TRL just appended for this
        generation batch. Training uses A' = delta_i (A_i - gamma <H>_i) lambda_{i,t} (`_gtpo_advantages`)."""
        logged = self._logs["advantages"]
        gathered = self.accelerator.gather(advantages).tolist()  # (N,), the order TRL appended
        if len(logged) >= len(gathered):
            for _ in gathered:
                logged.pop()
            logged.extend(gathered)

    def _zero_constant_groups(self, advantages: torch.Tensor, group_size: int) -> torch.Tensor:
        """A = 0 exactly on this process's rows of groups whose rewards (the weighted sum of the functions,
        as TRL computes it) are all equal; unscorable rows (every function returned None) do not count and
        keep TRL's A = 0."""
        rewards = self._gathered_rewards.to(advantages.device)  # (N, K)
        weights = self.reward_weights.to(rewards.device).unsqueeze(0)  # (1, K)
        summed = (rewards * weights).nansum(dim=1)  # (N,) TRL's reward: the weighted sum, None/NaN skipped
        summed = torch.where(rewards.isnan().all(dim=1), torch.nan, summed)  # no function applied: unscored
        constant = constant_groups(summed, group_size)  # (N,)
        start = self.accelerator.process_index * advantages.size(0)
        local = constant[start : start + advantages.size(0)]  # (B,)
        local = local.view(-1, *([1] * (advantages.dim() - 1)))
        return torch.where(local, torch.zeros_like(advantages), advantages)

    def _add_conflict_weights(self, output: dict[str, Any], mode: str) -> dict[str, Any]:
        """Add this process's rows of the conflict weights/mask, computed on whole groups of the global batch."""
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        ids = output["completion_ids"]  # (B, T)
        mask = output["completion_mask"]  # (B, T) positions of the completion, tool outputs included
        advantages = output["advantages"]  # (B,)
        acc = self.accelerator
        all_ids = acc.gather(acc.pad_across_processes(ids, dim=1, pad_index=self._tokenizer.pad_token_id))
        all_mask = acc.gather(acc.pad_across_processes(mask, dim=1, pad_index=0))  # (N, T_max)
        all_adv = acc.gather(advantages)  # (N,)
        weights, conflicts, counts = conflict_tensors(
            all_ids, all_mask, all_adv, group_size, scope=self.args.conflict_scope,
            positive_weight=self.args.positive_weight, combine=self.args.conflict_combine,
            negative_weight=self.args.negative_weight, max_run=self.args.conflict_max_run,
            count=self.args.conflict_count if self.args.normalize_by_conflicts else None,
        )  # (N, T_max), (N, T_max), (N,) or None  # fmt: skip
        rows = slice(acc.process_index * ids.size(0), (acc.process_index + 1) * ids.size(0))
        output[WEIGHTS_KEY] = weights[rows, : ids.size(1)]
        output[CONFLICTS_KEY] = conflicts[rows, : ids.size(1)]
        if counts is not None:
            output[COUNTS_KEY] = counts[rows]  # (B,)
        if mode == "train" and acc.is_main_process:
            self.latest_conflict_sample = self._pick_sample(all_ids, all_mask, all_adv, weights, group_size)
        return output

    def _pick_sample(self, ids, mask, advantages, weights, group_size: int) -> dict:
        """One group of the batch (the first with both positive and negative completions) for the logs."""
        groups = advantages.view(-1, group_size)  # (N/G, G)
        mixed = ((groups > 0).any(1) & (groups < 0).any(1)).nonzero()
        g = int(mixed[0]) if len(mixed) else 0
        per_func = self._gathered_rewards.cpu()  # (N, K)
        rewards = (per_func.nan_to_num(0.0) * self.reward_weights.cpu().unsqueeze(0)).sum(1)  # (N,)
        rows = []
        for i in range(g * group_size, (g + 1) * group_size):
            valid = mask[i].bool()
            rows.append(
                {
                    "token_ids": ids[i][valid].tolist(),
                    "weights": [round(w, 4) for w in weights[i][valid].tolist()],
                    "advantage": float(advantages[i]),
                    "reward": float(rewards[i]),
                }
            )
        return {"step": self.state.global_step + 1, "completions": rows}

    # ----------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs: dict[str, Any]) -> torch.Tensor:
        # TRL's own loss (every loss_type, clip-higher, delta, sequence-level IS, top-entropy masking, the
        # entropy bonus, vLLM IS correction, its metrics) fed GTPO's token advantages A': the policy forward
        # below hands TRL's entropies to `_gtpo_advantages`, which puts A' (B, T) in this copy of the batch
        # before TRL reads "advantages". The buffered batch keeps A_i for later iterations.
        self._gtpo_batch = dict(inputs)
        try:
            return super()._compute_loss(model, self._gtpo_batch)
        finally:
            self._gtpo_batch = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        batch = getattr(self, "_gtpo_batch", None)
        if batch is None:  # generation-time passes (old and reference log-probs): TRL's own
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              *args, **kwargs)  # fmt: skip
        self._gtpo_batch = None  # the one policy forward of this loss
        kwargs["compute_entropy"] = True
        logps, entropy, *rest = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        batch["advantages"] = self._gtpo_advantages(batch, entropy.detach())  # (B, T)
        return (logps, entropy, *rest)

    def _gtpo_advantages(self, batch: dict[str, Any], entropy: torch.Tensor) -> torch.Tensor:  # (B, T)
        """A' = delta_i * (A_i - gamma * <H>_i) * lambda_{i,t} [/ c_i] (`gtpo.core.shaped_token_advantages`)."""
        mask = batch["completion_mask"] if "tool_mask" not in batch else batch["completion_mask"] * batch["tool_mask"]
        valid = mask.bool()  # (B, T)
        mode = "train" if self.model.training else "eval"
        divisor = None
        if self.args.normalize_by_conflicts:  # "exact" counts the tokens the loss sees (tool outputs excluded)
            counts = batch[COUNTS_KEY] if self.args.conflict_count != "exact" else (batch[CONFLICTS_KEY] & valid).sum(1)
            divisor = counts.float().clamp(min=1)  # (B,)
        advantages = batch["advantages"]
        initial = self._initial_entropy(entropy, mask, mode)
        filter_mode = self.args.entropy_filter if initial is not None or self.args.entropy_filter != "auto" else "off"
        token_adv, h, delta, shaped = shaped_token_advantages(
            advantages, valid, batch[WEIGHTS_KEY], entropy, gamma=self.args.entropy_gamma,
            entropy_threshold=self.args.entropy_threshold, initial_entropy=initial, filter_mode=filter_mode,
            divisor=divisor,
        )  # fmt: skip
        sums = metric_sums(advantages.detach(), valid, batch[CONFLICTS_KEY] & valid, entropy, h, delta, shaped)
        self._log_gtpo_metrics(finish(sums), mode)
        return token_adv.to(advantages.dtype)

    def _initial_entropy(self, entropy: torch.Tensor, mask: torch.Tensor, mode: str) -> float | None:
        """<H>_ini: the stored value, else the mean completion entropy of this batch over all processes; None
        while no process has a valid token (the filter then waits: `entropy_filter` keeps every row)."""
        if self.gtpo_state.initial_entropy is not None:
            return self.gtpo_state.initial_entropy
        per_completion = mean_entropy(entropy, mask)  # (B,)
        valid = mask.sum(1) > 0  # (B,)
        totals = torch.stack([per_completion[valid].sum(), valid.sum().to(per_completion.dtype)])
        totals = self.accelerator.reduce(totals.float(), reduction="sum")
        if totals[1] == 0:  # no valid token on any process (every completion masked): nothing measured yet
            return None
        value = (totals[0] / totals[1]).item()
        if mode == "train" and math.isfinite(value):  # a NaN batch (a skipped update) must not become <H>_ini
            self.gtpo_state.initial_entropy = value
        return value

    def _log_gtpo_metrics(self, metrics: dict[str, torch.Tensor], mode: str) -> None:
        """Append this micro-batch's GTPO metrics to TRL's `_metrics`, reduced over all processes (TRL logs
        `entropy`, `clip_ratio/*` and `aux_loss` itself)."""
        acc = self.accelerator
        counts = sorted({name for pair in SHARES.values() for name in pair})
        summed = acc.reduce(torch.stack([metrics[name].float() for name in counts]).to(acc.device), reduction="sum")
        for name, value in zip(counts, summed.tolist(), strict=True):
            self._metrics[mode][COUNT_PREFIX + name].append(value)
        means = sorted(set(metrics) - set(counts) - set(SHARES) - {"token_entropy"})
        local = torch.stack([metrics[name].float() for name in means]).to(acc.device)  # (M,)
        gathered = acc.gather(local.unsqueeze(0)).nanmean(0)  # (M,)
        for name, value in zip(means, gathered.tolist(), strict=True):
            self._metrics[mode][f"gtpo/{name}"].append(value)
        self._metrics[mode]["gtpo/initial_entropy"].append(float(self.gtpo_state.initial_entropy or float("nan")))

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        metrics = self._metrics["train" if self.model.training else "eval"]
        logged = COUNT_PREFIX + "valid_tokens_pos" in metrics  # GTPO micro-batches in this window
        totals = {name: sum(metrics.pop(COUNT_PREFIX + name, [])) for pair in SHARES.values() for name in pair}
        if logged:
            for share, (num, den) in SHARES.items():
                metrics[f"gtpo/{share}"] = [totals[num] / totals[den] if totals[den] > 0 else float("nan")]
            self._watch_collapse(metrics)
        super().log(logs, start_time)

    def _watch_collapse(self, metrics: dict[str, list[float]]) -> None:
        """The collapse monitor: once per run, warn (stderr) when the positive completions' conflict share of
        this logging window exceeds `collapse_conflict_share`, or the window's token entropy falls below
        `collapse_entropy_fraction` x <H>_ini; log `gtpo/collapse` (1: conflict share, 2: entropy, 3: both)
        at that step, which `gtpo report` marks. The step is checkpointed (`GTPOState`): a resumed run that
        already warned stays quiet."""
        if self.gtpo_state.collapse_step is not None or not self.model.training:
            return
        share = metrics.get("gtpo/conflict_frac_pos", [math.nan])[0]
        entropies = [e for e in metrics.get("entropy", []) if math.isfinite(e)]
        entropy = sum(entropies) / len(entropies) if entropies else math.nan
        initial = self.gtpo_state.initial_entropy
        reasons = []
        if share > self.args.collapse_conflict_share:
            reasons.append((1, f"conflict tokens are {share:.0%} of the positive completions' tokens "
                               f"(> {self.args.collapse_conflict_share:.0%}): GTPO's weights act on most of each update, "
                               "not only the format frame"))  # fmt: skip
        if initial and entropy < self.args.collapse_entropy_fraction * initial:
            reasons.append((2, f"token entropy {entropy:.3g} fell below {self.args.collapse_entropy_fraction:g} x "
                               f"<H>_ini ({initial:.3g})"))  # fmt: skip
        if not reasons:
            return
        self.gtpo_state.collapse_step = self.state.global_step
        metrics["gtpo/collapse"] = [float(sum(code for code, _ in reasons))]
        if self.accelerator.is_main_process:
            print(f"[gtpo] step {self.state.global_step}: possible collapse: " + "; ".join(r for _, r in reasons)
                  + ". Consider negative_weight (e.g. 0.5), conflict_max_run (e.g. 8) or a lower learning rate "
                  "(docs/training.md, 'Negative updates and collapse'). Warned once per run.", file=sys.stderr)  # fmt: skip
