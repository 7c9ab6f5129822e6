"""Evaluation: sample n completions per problem, grade them, report accuracy, formatting rate,
pass@k and maj@k (`gtpo eval`, or `gtpo.eval.evaluate(...)` from Python).

`gtpo.eval.metrics` is light (numpy only); the runner (torch, transformers) is imported on first
use of `evaluate` or `EvalConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gtpo.eval.metrics import cluster_answers, maj_at_k, majority_vote_accuracy, pass_at_k

if TYPE_CHECKING:
    from gtpo.eval.runner import EvalConfig, evaluate

__all__ = ["EvalConfig", "evaluate", "pass_at_k", "maj_at_k", "cluster_answers", "majority_vote_accuracy"]


def __getattr__(name: str) -> Any:
    if name in ("EvalConfig", "evaluate"):
        from gtpo.eval import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'gtpo.eval' has no attribute {name!r}")
