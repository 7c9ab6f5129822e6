"""gtpo.run.logger: each reward function's mean reaches metrics.jsonl under its own name."""

from __future__ import annotations

from types import SimpleNamespace

from gtpo.run.logger import METRIC_KEYS, RunLogger


def test_each_reward_function_mean_is_a_row_key(tmp_path):
    logger = RunLogger(tmp_path, console=False)
    logs = {"loss": 0.5, "reward": 1.5, "rewards/score/mean": 1.0, "rewards/score/std": 0.3,
            "rewards/errors/mean": 1.0, "reward_errors": 2, "rewards/format/mean": 7.0}  # fmt: skip
    row = logger.row(SimpleNamespace(global_step=3), logs)
    assert tuple(row)[: len(METRIC_KEYS)] == METRIC_KEYS  # the fixed keys first, in their order
    assert {k: row[k] for k in row if k.startswith("reward/")} == {"reward/score": 1.0, "reward/errors": 1.0,
                                                                  "reward/format": 7.0}  # fmt: skip
    assert row["reward_errors"] == 2 and row["reward_format"] == 7.0 and row["step"] == 3  # not confused
    sft = RunLogger(tmp_path, console=False, names={"loss": "loss"}, trigger="loss")
    assert sft.row(SimpleNamespace(global_step=1), logs) == {
        "step": 1,
        "loss": 0.5,
    }  # SFT rows: no reward keys
