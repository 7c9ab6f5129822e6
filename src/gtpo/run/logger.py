"""Run-folder logging shared by every training command (GTPO, the GRPO baselines, SFT).

`RunLogger` turns TRL's logged names into the run folder's `metrics.jsonl` rows (one per logging
step, the same keys for every algorithm; a key that does not apply to a run is null), prints one
compact console line per logging step, and, for GTPO runs, appends one group's tokens and conflict
weights to `conflict_samples.jsonl`. TensorBoard is transformers' own callback (`report_to:
[tensorboard]`), which receives every TRL and GTPO metric under its TRL name.

`skipped_updates` (non-finite updates skipped) and `reward_errors` (completions whose reward function
failed and scored 0) are counts since the previous row, from the run guards (`gtpo.run.guards`); the
console line shows them when they are not 0.

`format_rate` and `accuracy` are reported by the reward wrappers (`gtpo.trl.rewards`) through TRL's
`log_metric`, so GRPO runs get them too.

Each reward function's mean (TRL's ``rewards/<name>/mean``, before the weights) is also in every row
under ``reward/<name>``, for whatever functions the run has (``reward/format``, ``reward/score``, ...);
``reward`` is TRL's weighted sum of them. The built-ins' means keep their flat keys
(``reward_format``, ``reward_correctness``) as well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from gtpo.run.io import read_jsonl, write_text_atomic

METRIC_KEYS = (
    "step", "loss", "reward", "reward_format", "reward_correctness", "format_rate", "accuracy",
    "completion_length", "entropy", "completion_entropy", "initial_entropy", "conflict_frac_pos",
    "conflict_frac_neg", "filtered_frac", "lr", "skipped_updates", "reward_errors", "collapse",
)  # fmt: skip
COUNT_KEYS = ("skipped_updates", "reward_errors")  # ints, since the previous row (run guards)
REWARD_PREFIX = "reward/"  # metrics.jsonl key of each reward function's mean: reward/<name>

# metrics.jsonl key -> the name TRL (or GTPOTrainer, or the reward wrappers) logs it under
TRL_NAMES = {
    "loss": "loss",
    "reward": "reward",
    "reward_format": "rewards/format/mean",
    "reward_correctness": "rewards/correctness/mean",
    "format_rate": "format_rate",
    "accuracy": "accuracy",
    "completion_length": "completions/mean_length",
    "entropy": "entropy",
    "completion_entropy": "gtpo/completion_entropy",
    "initial_entropy": "gtpo/initial_entropy",
    "conflict_frac_pos": "gtpo/conflict_frac_pos",
    "conflict_frac_neg": "gtpo/conflict_frac_neg",
    "filtered_frac": "gtpo/filtered_frac",
    "lr": "learning_rate",
    "skipped_updates": "skipped_updates",
    "reward_errors": "reward_errors",
    "collapse": "gtpo/collapse",  # the collapse monitor fired at this step: 1 conflict share, 2 entropy, 3 both
}


# `gtpo sft` runs: metrics.jsonl key -> the name TRL's SFTTrainer logs it under
SFT_NAMES = {
    "loss": "loss",
    "token_accuracy": "mean_token_accuracy",
    "entropy": "entropy",
    "num_tokens": "num_tokens",
    "grad_norm": "grad_norm",
    "lr": "learning_rate",
}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class RunLogger(TrainerCallback):
    """Writes OUTPUT/metrics.jsonl (and conflict_samples.jsonl when a sample source is attached)."""

    def __init__(self, output_dir: str | Path, *, tokenizer: Any = None, console: bool = True,
                 names: dict[str, str] | None = None, trigger: str = "reward"):  # fmt: skip
        """`names`: metrics.jsonl key -> logged name (default `TRL_NAMES`, GTPO/GRPO runs; `SFT_NAMES` for
        `gtpo sft`); a row is written for each training log that holds `trigger`."""
        self.output_dir = Path(output_dir)
        self.names = TRL_NAMES if names is None else names
        self.trigger = trigger
        self.tokenizer = tokenizer
        self.console = console
        self.sample_source: Callable[[], dict | None] | None = None  # set for GTPO runs
        self._first_entropy: float | None = None
        self._last_sample_step: int | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        """Keep only rows up to the starting step: a resumed run continues its files, a fresh run restarts them."""
        if not state.is_world_process_zero:
            return
        for name in ("metrics.jsonl", "conflict_samples.jsonl"):
            path = self.output_dir / name
            if path.is_file():  # a row torn by a kill mid-write is dropped
                kept = [row for row in read_jsonl(path) if row.get("step", math.inf) <= state.global_step]
                write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in kept))
                if name == "metrics.jsonl" and kept:
                    entropies = [row.get("entropy") for row in kept]
                    self._first_entropy = next((e for e in entropies if e is not None), None)

    def row(self, state: TrainerState, logs: dict[str, Any]) -> dict[str, Any]:
        """One metrics.jsonl row from TRL's logs (for GRPO runs, initial_entropy = first logged entropy)."""
        out: dict[str, Any] = {"step": int(state.global_step)}
        for key, name in self.names.items():
            out[key] = _number(logs.get(name))
            if key in COUNT_KEYS and out[key] is not None:
                out[key] = int(out[key])
        if "reward" in self.names:  # GTPO / GRPO runs: every reward function's own mean
            for name, value in logs.items():
                if name.startswith("rewards/") and name.endswith("/mean"):
                    out[REWARD_PREFIX + name[len("rewards/") : -len("/mean")]] = _number(value)
        if "initial_entropy" in out:
            if out["entropy"] is not None and self._first_entropy is None:
                self._first_entropy = out["entropy"]
            if out["initial_entropy"] is None:
                out["initial_entropy"] = self._first_entropy
        return out

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs
    ):
        if not state.is_world_process_zero or not logs or self.trigger not in logs:
            return  # eval logs, the final train summary, and non-main processes write nothing
        self.output_dir.mkdir(parents=True, exist_ok=True)
        row = self.row(state, logs)
        with open(self.output_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.console:
            shown = ("loss", "reward", "format_rate", "accuracy", "token_accuracy", "entropy", "conflict_frac_neg",
                     "filtered_frac")  # fmt: skip
            parts = [f"{k}={row[k]:.4g}" for k in shown if row.get(k) is not None]
            parts += [f"{k}={row[k]}" for k in COUNT_KEYS if row.get(k)]  # the guards' counts, when not 0
            print(f"[gtpo] step {row['step']}: " + " ".join(parts), flush=True)
        self._write_sample()

    def _write_sample(self) -> None:
        sample = self.sample_source() if self.sample_source is not None else None
        if sample is None or sample["step"] == self._last_sample_step:
            return
        self._last_sample_step = sample["step"]
        completions = []
        for row in sample["completions"]:
            ids = row["token_ids"]
            tokens = [self.tokenizer.decode([t]) for t in ids] if self.tokenizer is not None else [str(t) for t in ids]
            completions.append(
                {"tokens": tokens, "weights": row["weights"], "advantage": row["advantage"], "reward": row["reward"]}
            )
        with open(self.output_dir / "conflict_samples.jsonl", "a") as f:
            f.write(json.dumps({"step": sample["step"], "completions": completions}) + "\n")
