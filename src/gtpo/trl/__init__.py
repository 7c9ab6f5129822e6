"""GTPO on TRL (the only part of the package that imports trl).

    GTPOConfig   TRL's GRPOConfig + the GTPO fields (config.py)
    GTPOTrainer  TRL's GRPOTrainer with the GTPO objective (trainer.py)
    GTPOState    the checkpointed <H>_ini (trainer.py)
    GuardedGRPOTrainer  TRL's GRPOTrainer + run guards, the GRPO baselines' trainer (safety.py)
    RunLogger    metrics.jsonl / conflict_samples.jsonl writer, for GTPO and GRPO runs (callbacks.py)
`gtpo train` is `gtpo.trl.cli.main`; `python -m gtpo.trl.tiny_model PATH` builds the tiny model
that recipes/tiny-cpu.yaml trains.
"""

from gtpo.trl.callbacks import RunLogger
from gtpo.trl.config import GTPOConfig, TaskArguments
from gtpo.trl.safety import GuardedGRPOTrainer
from gtpo.trl.trainer import GTPOState, GTPOTrainer

__all__ = ["GTPOConfig", "GTPOState", "GTPOTrainer", "GuardedGRPOTrainer", "RunLogger", "TaskArguments"]
