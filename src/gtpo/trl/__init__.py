"""GTPO on TRL (the only part of the package that imports trl).

    GTPOConfig          TRL's GRPOConfig + the GTPO fields (config.py)
    GTPOTrainer         TRL's GRPOTrainer with the GTPO objective (trainer.py)
    GTPOState           the checkpointed <H>_ini (trainer.py)
    GuardedGRPOTrainer  TRL's GRPOTrainer + the run guards, the GRPO baselines' trainer (guarded.py)
    reward_funcs        registry rewards as TRL reward functions (rewards.py)
`gtpo train` is `gtpo.trl.train.main`; `gtpo sft` is `gtpo.trl.sft.main`.
"""

from gtpo.trl.config import GTPOConfig
from gtpo.trl.guarded import GuardedGRPOTrainer
from gtpo.trl.rewards import reward_funcs
from gtpo.trl.trainer import GTPOState, GTPOTrainer

__all__ = ["GTPOConfig", "GTPOState", "GTPOTrainer", "GuardedGRPOTrainer", "reward_funcs"]
