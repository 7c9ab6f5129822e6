"""gtpo: GTPO (Group-relative Trajectory-based Policy Optimization) for Hugging Face causal LMs.

Layers (each importable on its own):
- `gtpo.core`: the algorithm as pure torch functions (advantages, conflict weights, entropy, losses).
- `gtpo.rewards`: answer extraction, grading with deadlines, the paper's format/correctness scores.
- `gtpo.tasks`: GSM8K, MATH, MATH-500, AIME 2024/2025, AMC 2023 and the offline `arith` task.
- `gtpo.trl`: `GTPOConfig` and `GTPOTrainer` on TRL's GRPOTrainer (the only module importing trl).
- `gtpo.eval`: pass@k, maj@k and the evaluation runner.
"""

__version__ = "0.1.0"
