"""The run guards on TRL's trainers, shared by GTPO and the GRPO baselines: atomic checkpoints,
reward-function faults, non-finite updates. The GRPO algorithm itself is TRL's, unchanged.

- Reward functions (plain Python callables; reward models are TRL's) run under
  `gtpo.run.guards.RewardGuard` (deadline, failures score 0 and are counted in `reward_errors`, a
  function failing on its whole first batch, or on every completion of `max_failed_reward_steps`
  batches in a row, stops the run). `reward_guard=False` hands TRL the functions untouched.
- Non-finite updates: when the global gradient norm is NaN or inf (a NaN/inf loss or logits make it
  so), all gradients are dropped before `optimizer.step()`, so AdamW skips every parameter: weights
  and optimizer moments stay exactly as they were. transformers still counts the step (global_step
  and the learning-rate schedule advance). Counted as `skipped_updates`. After
  `max_nonfinite_steps` such steps in a row, a checkpoint of the last finite parameters is saved and
  `train()` raises `NonFiniteUpdatesError`. fp16 runs (GradScaler) keep their own overflow handling;
  under DeepSpeed the guard cannot run (its engine steps the optimizer) and the trainer warns so.
- Checkpoints are written atomically (`gtpo.run.checkpoints`).
- A model that holds NaN/inf parameters is refused before training (`NonFiniteWeightsError`): it
  would otherwise fail inside generation with torch's "probability tensor contains either inf, nan".
"""

from __future__ import annotations

import math
import shutil
import warnings
from typing import Any

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints
from trl.trainer.utils import is_async_callable

from gtpo.run.checkpoints import COMPLETE_MARKER, publish, staging_root
from gtpo.run.guards import (
    MAX_FAILED_REWARD_STEPS,
    MAX_NONFINITE_STEPS,
    REWARD_TIMEOUT,
    AsyncRewardGuard,
    RewardFunctionError,
    RewardGuard,
    RunGuardError,
)
from trl import GRPOTrainer


class NonFiniteUpdatesError(RunGuardError):
    """Training stopped after too many non-finite updates in a row (a usable checkpoint was saved)."""


class NonFiniteWeightsError(RunGuardError):
    """The model to train holds NaN or inf parameters (a corrupt checkpoint): generation would fail."""



def guard_reward_funcs(funcs: Any, timeout: float | None, max_failed: int = MAX_FAILED_REWARD_STEPS) -> Any:
    """Wrap every plain callable (not a reward model or a model id) in RewardGuard, or AsyncRewardGuard when
    calling it returns a coroutine (TRL's `is_async_callable`: async functions and async `__call__`)."""
    single = not isinstance(funcs, list)
    guarded = []
    for f in [funcs] if single else funcs:
        if not callable(f) or isinstance(f, (torch.nn.Module, RewardGuard)):
            guarded.append(f)
        else:
            guard = AsyncRewardGuard if is_async_callable(f) else RewardGuard
            guarded.append(guard(f, timeout, max_failed))
    return guarded[0] if single else guarded


def nonfinite_parameters(model: Any) -> list[str]:
    """Names of the floating parameters holding NaN or inf; parameters on the meta device (not loaded on
    this process, as FSDP's CPU-RAM-efficient loading leaves them on all but one rank) are skipped."""
    return [
        name for name, p in model.named_parameters()
        if p.is_floating_point() and p.device.type != "meta" and not bool(p.isfinite().all())
    ]  # fmt: skip


def tied_to_loaded(model: Any, missing: list[str]) -> list[str]:
    """The keys of `missing` whose parameter is the same tensor as a parameter that was loaded (tied
    weights: with tied embeddings `lm_head.weight` is the embedding matrix, which a checkpoint stores once)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    loaded = {param.data_ptr() for name, param in params.items() if name not in missing}
    return [key for key in missing if key in params and params[key].data_ptr() in loaded]


class AtomicCheckpoints:
    """Mixin for a transformers `Trainer`: each checkpoint is transformers' own save, written into a
    staging folder and renamed into place (`gtpo.run.checkpoints`), so a kill mid-save never leaves a
    `checkpoint-N/` that resuming would pick. On resume, the run's own `logging_steps`, `eval_steps` and
    `save_steps` apply: transformers would take them from the checkpoint's trainer_state.json (with a
    warning), while a resume records them as applied (`gtpo.run.folder`). A resume reports missing keys
    except those of weights tied to a loaded one (transformers 5 checks only `_keys_to_ignore_on_save`
    and would report `lm_head.weight` of every tied-embedding model although it is restored exactly).
    Hooks: `_get_output_dir`, `_save_checkpoint`, `_init_training_state`, `_issue_warnings_after_load`."""

    _staging_dir: str | None = None

    def _init_training_state(self, max_steps, *args, **kwargs):
        started = super()._init_training_state(max_steps, *args, **kwargs)
        self.state.compute_steps(self.args, max_steps)  # the arguments' steps, not the checkpoint's
        return started

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        tied = set(tied_to_loaded(self.model, list(load_result.missing_keys)))
        missing = [key for key in load_result.missing_keys if key not in tied]
        super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))

    def _get_output_dir(self, trial) -> str:
        return self._staging_dir or super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging = staging_root(run_dir, self.state.global_step)
        if self.args.should_save and staging.exists():
            shutil.rmtree(staging)
        self.accelerator.wait_for_everyone()
        self._staging_dir = str(staging)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_dir = None
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            best = self.state.best_model_checkpoint
            if best is not None and best.startswith(str(staging)):  # transformers saw the staged path
                self.state.best_model_checkpoint = str(staging.parent / name)
                self.state.save_to_json(str(staging / name / COMPLETE_MARKER))
            publish(staging / name, staging.parent / name)
            staging.rmdir()
            rotate_checkpoints(
                run_dir, self.args.save_total_limit, self.state.best_model_checkpoint, use_mtime=True
            )
        self.accelerator.wait_for_everyone()


class GuardedGRPOTrainer(AtomicCheckpoints, GRPOTrainer):
    """TRL's GRPOTrainer (algorithm unchanged) with the run guards of this module.

    Overridden hooks:
    - `__init__`: wraps the reward functions in `RewardGuard` / `AsyncRewardGuard` (unless
      `reward_guard=False`); refuses a model with
      NaN/inf parameters; warns that the non-finite-update guard does not run under DeepSpeed;
    - `_calculate_rewards`: after TRL's gather, stops the run on every process when a reward function is
      broken on any process (its whole first batch failed, or every completion of `max_failed_reward_steps`
      batches in a row; no process is left waiting in a collective);
    - `_get_grad_norm` (the last hook before `optimizer.step()`): drops the gradients of a non-finite
      update and stops the run after `max_nonfinite_steps` of them in a row;
    - `_save_checkpoint` and `_get_output_dir` (`AtomicCheckpoints`): atomic checkpoints;
    - `log`: adds `skipped_updates` and, with the reward guard, `reward_errors` (counts since the previous log);
    - `train`: raises `NonFiniteUpdatesError` after such a stop, once the checkpoint is written.
    """

    def __init__(self, model: Any, reward_funcs: Any, args: Any = None, *, max_nonfinite_steps: int = MAX_NONFINITE_STEPS,
                 reward_timeout: float | None = REWARD_TIMEOUT, max_failed_reward_steps: int = MAX_FAILED_REWARD_STEPS,
                 reward_guard: bool = True, **kwargs: Any):  # fmt: skip
        if max_nonfinite_steps < 1:
            raise ValueError(
                f"max_nonfinite_steps={max_nonfinite_steps}: must be >= 1 (default {MAX_NONFINITE_STEPS})"
            )
        if reward_timeout is not None and not reward_timeout > 0:
            raise ValueError(f"reward_timeout={reward_timeout}: must be > 0 seconds, or None for no deadline")
        if max_failed_reward_steps < 1:
            raise ValueError(f"max_failed_reward_steps={max_failed_reward_steps}: must be >= 1 "
                             f"(default {MAX_FAILED_REWARD_STEPS})")  # fmt: skip
        if reward_guard:
            reward_funcs = guard_reward_funcs(reward_funcs, reward_timeout, max_failed_reward_steps)
        # TRL 1.16 calls transformers' deprecated `is_gradient_checkpointing`, `gradient_checkpointing_disable`
        # and `gradient_checkpointing_enable` around every generation (trl.models.utils): FutureWarnings about
        # TRL's code, not the user's or this package's. Only these three messages are ignored.
        warnings.filterwarnings(
            "ignore", message="`(is_gradient_checkpointing|gradient_checkpointing_(enable|disable))` is deprecated",
            category=FutureWarning,
        )  # fmt: skip
        super().__init__(model, reward_funcs, args=args, **kwargs)
        bad = nonfinite_parameters(self.model)
        if bad:
            raise NonFiniteWeightsError(
                f"model {getattr(self.model.config, '_name_or_path', '')!r}: {len(bad)} parameter tensor(s) hold "
                f"NaN or inf (first: {bad[0]}); the checkpoint is corrupt: train from an earlier checkpoint or "
                "the base model (model_name_or_path)"
            )
        if self.is_deepspeed_enabled and self.accelerator.scaler is None:
            warnings.warn(
                "DeepSpeed: the non-finite-update guard (max_nonfinite_steps) does not run under DeepSpeed, whose "
                "engine steps the optimizer itself; DeepSpeed skips overflowing steps only with fp16 loss scaling. "
                "Watch grad_norm in the logs, or train without DeepSpeed to have NaN/inf updates skipped.",
                RuntimeWarning, stacklevel=2,
            )  # fmt: skip
        self.max_nonfinite_steps = max_nonfinite_steps
        self.nonfinite_in_a_row = 0
        self._skipped_since_log = 0
        self._reward_errors_logged = 0
        self._stopped_nonfinite = False

    # ---- reward functions --------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        # after TRL's gather every process is here: a function broken on one process stops all of them
        broken = [f.broken for f in self.reward_funcs if isinstance(f, RewardGuard) and f.broken is not None]
        flag = torch.tensor([float(bool(broken))], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            flag = self.accelerator.reduce(flag, reduction="sum")
        if flag.item() > 0:
            raise broken[0] if broken else RewardFunctionError(
                "a reward function failed on all completions of its first batch on another process; see that "
                "process's error"
            )
        return rewards

    # ---- non-finite updates ------------------------------------------------------------------------
    def _get_grad_norm(self, model, grad_norm=None):
        grad_norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        if self.accelerator.scaler is not None or self.is_deepspeed_enabled or grad_norm is None:
            return grad_norm  # GradScaler / DeepSpeed handle overflow themselves
        value = float(grad_norm)
        if math.isfinite(value):
            self.nonfinite_in_a_row = 0
            return grad_norm
        for param in model.parameters():  # AdamW updates only parameters that have a gradient
            param.grad = None
        self.nonfinite_in_a_row += 1
        self._skipped_since_log += 1
        step = self.state.global_step + 1
        print(f"[gtpo] step {step}: gradient norm {value} (non-finite loss or logits): update skipped "
              f"({self.nonfinite_in_a_row} in a row, the run stops at {self.max_nonfinite_steps})", flush=True)  # fmt: skip
        if self.nonfinite_in_a_row >= self.max_nonfinite_steps:
            self._stopped_nonfinite = True
            self.control.should_save = self.control.should_log = self.control.should_training_stop = True
        return grad_norm

    def train(self, *args: Any, **kwargs: Any):
        output = super().train(*args, **kwargs)
        if self._stopped_nonfinite:
            step = self.state.global_step
            raise NonFiniteUpdatesError(
                f"stopped at step {step}: {self.max_nonfinite_steps} updates in a row had a non-finite loss or "
                f"gradient (NaN/inf) and were skipped, never applied (max_nonfinite_steps={self.max_nonfinite_steps}). "
                f"{PREFIX_CHECKPOINT_DIR}-{step} in {self.args.output_dir} holds the last finite parameters. Fix: lower "
                "learning_rate, set max_grad_norm, use bf16 rather than fp16, or check the model and rewards; "
                "then continue with --resume"
            )
        return output

    # ---- logging -----------------------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.model.training:
            errors = sum(f.errors for f in self.reward_funcs if isinstance(f, RewardGuard))
            counts = torch.tensor(
                [self._skipped_since_log, errors - self._reward_errors_logged], dtype=torch.float64
            )
            if self.accelerator.num_processes > 1:
                counts[1:] = self.accelerator.reduce(
                    counts[1:].to(self.accelerator.device), reduction="sum"
                ).cpu()
            logs["skipped_updates"] = int(counts[0])
            if any(isinstance(f, RewardGuard) for f in self.reward_funcs):
                logs["reward_errors"] = int(counts[1])
            self._skipped_since_log, self._reward_errors_logged = 0, errors
        super().log(logs, start_time)
