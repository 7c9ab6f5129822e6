"""Evaluation: sample n completions per problem, grade them, report accuracy, formatting rate,
pass@k and maj@k (`gtpo eval`, or `gtpo.eval.evaluate(...)` from Python).

`gtpo.eval.metrics` is light (numpy only); the runner (torch, transformers) is imported on first
use of `evaluate`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gtpo.eval.metrics import cluster_answers, maj_at_k, majority_vote_accuracy, pass_at_k, vote_clusters

if TYPE_CHECKING:
    from gtpo.eval.config import EvalConfig
    from gtpo.eval.runner import evaluate

__all__ = [
    "EvalConfig",
    "evaluate",
    "pass_at_k",
    "maj_at_k",
    "cluster_answers",
    "vote_clusters",
    "majority_vote_accuracy",
]


def __getattr__(name: str) -> Any:
    if name == "EvalConfig":
        from gtpo.eval.config import EvalConfig

        return EvalConfig
    if name == "evaluate":
        from gtpo.eval.runner import evaluate

        return evaluate
    raise AttributeError(f"module 'gtpo.eval' has no attribute {name!r}")
