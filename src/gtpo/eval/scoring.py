"""Grading of sampled completions and the scores of a run (definitions: docs/evaluation.md).

- `grade_completions`: the training rewards' own rule (`gtpo.rewards.grade`): format =
  `format_reward`, answer = `extract_answer`, correct = full format score and the answer matches the
  reference (one deadline per item, numeric rule `EvalConfig.answer_tolerance`).
- `score_samples`: accuracy (mean correctness over samples), format_rate (share with format 10),
  pass@k and maj@k per problem (`gtpo.eval.metrics`) averaged over problems. maj@k votes with the
  answers of fully formatted samples; the others abstain, so maj@1 equals accuracy.
- `eval_table` / `write_summary`: summary.md (metrics in percent) and summary.json.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gtpo.eval.config import EvalConfig
from gtpo.eval.generate import Completion, derive_seed
from gtpo.eval.metrics import majority_vote_accuracy, pass_at_k, vote_clusters
from gtpo.rewards.extract import FULL_SCORE
from gtpo.run.io import write_text_atomic

__all__ = ["grade_completions", "score_samples", "eval_table", "write_summary"]


def grade_completions(
    completions: list[Completion], refs: list[str], timeout: float, tolerance: str = "strict"
) -> list[tuple[str | None, float, bool]]:
    """(answer, format score, correct) of each completion."""
    from gtpo.rewards import grade

    graded = grade([c.text for c in completions], refs, timeout=timeout, tolerance=tolerance)
    return [(g.answer, float(g.format), g.correct) for g in graded]


def score_samples(records: list[dict], ids: Sequence[str], config: EvalConfig) -> dict[str, Any]:
    """Summary numbers of one run from its sample records (samples >= n are ignored)."""
    from gtpo.rewards import default_grader

    grader = default_grader()

    def batch_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
        return grader.matches(preds, refs, timeout=config.grade_timeout, tolerance=config.answer_tolerance)

    by_id: dict[str, dict[int, dict]] = {str(i): {} for i in ids}
    for r in records:
        if r["id"] in by_id and r["sample"] < config.n:
            by_id[r["id"]][r["sample"]] = r
    incomplete = [i for i, got in by_id.items() if len(got) != config.n]
    if incomplete:
        raise ValueError(f"{len(incomplete)} problem(s) lack samples (e.g. {incomplete[0]}); rerun to finish")
    flat = [r for got in by_id.values() for r in got.values()]
    row: dict[str, Any] = {
        "problems": len(by_id),
        "n": config.n,
        "samples": len(flat),
        "accuracy": sum(r["correct"] for r in flat) / len(flat),
        "format_rate": sum(r["format"] == FULL_SCORE for r in flat) / len(flat),
    }
    pass_sums = dict.fromkeys(config.ks, 0.0)
    maj_sums = dict.fromkeys(config.ks, 0.0)
    for problem, got in enumerate(by_id.values()):
        ordered = [got[s] for s in range(config.n)]
        c = sum(r["correct"] for r in ordered)
        votes = [r["answer"] if r["format"] == FULL_SCORE else None for r in ordered]  # others abstain
        labels, cluster_correct = vote_clusters(
            votes, [bool(r["correct"]) for r in ordered], batch_matches=batch_matches
        )
        for k in config.ks:
            pass_sums[k] += pass_at_k(config.n, c, k)
            seed = derive_seed(config.seed, problem, k)
            maj_sums[k] += majority_vote_accuracy(
                labels, cluster_correct, k, num_subsets=config.maj_subsets, seed=seed
            )
    for k in config.ks:
        row[f"pass@{k}"] = pass_sums[k] / len(by_id)
    for k in config.ks:
        row[f"maj@{k}"] = maj_sums[k] / len(by_id)
    row["mean_tokens"] = sum(r["tokens"] for r in flat) / len(flat)
    row["truncated_rate"] = sum(r["truncated"] for r in flat) / len(flat)
    return row


def eval_table(rows: list[dict], ks: Sequence[int]) -> str:
    """Markdown table: one row per (model, task); metrics in percent."""
    with_model = len({r["model"] for r in rows}) > 1
    metrics = ["accuracy", "format_rate"] + [f"pass@{k}" for k in ks] + [f"maj@{k}" for k in ks]
    titles = ["accuracy", "formatting"] + metrics[2:]
    head = (["model"] if with_model else []) + ["task", "problems", "n"] + titles
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * (len(head) - len(titles)) + ["---:"] * len(titles)) + "|",
    ]
    for r in rows:
        cells = ([r["model"]] if with_model else []) + [r["task"], str(r["problems"]), str(r["n"])]
        cells += [f"{100 * r[m]:.1f}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        "\n".join(lines) + "\n\nAll metrics in percent; formatting = share of samples with the full format.\n"
    )


def grading_rule(config: EvalConfig) -> dict[str, str]:
    """The answer-checking rule of a run, as summary.json records it."""
    rules = {
        "strict": "equal values only: rationals compared exactly, closed forms within 1e-9 relative",
        "paper": "the authors' rule: numbers within 1e-2 absolute (also equates 0 and 0.0000672)",
    }
    return {"answer_tolerance": config.answer_tolerance, "rule": rules[config.answer_tolerance]}


def write_summary(directory: Path, config: EvalConfig, rows: list[dict]) -> dict:
    summary = {"config": dataclasses.asdict(config), "grading": grading_rule(config), "results": rows}
    write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(directory / "summary.md", "# Evaluation\n\n" + eval_table(rows, config.ks))
    return summary
