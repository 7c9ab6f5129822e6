"""Grading of sampled completions and the scores of a run (definitions: docs/evaluation.md).

- `grade_completions`: the training rewards' own rule (`gtpo.rewards.grade`): format =
  `format_reward`, answer = `extract_answer`, correct = full format score and the answer matches the
  reference (one deadline per item, numeric rule `EvalConfig.answer_tolerance`).
- `UserGrader` (``--grader FILE.py:fn``): your check, ``fn(completion, answer) -> bool | float``; the
  score is the float (True = 1.0, False = 0.0) and a completion is correct when it is >= 1.0. Each call
  has the `grade_timeout` deadline; a call that raises, passes the deadline or returns no finite number
  scores 0 and is counted in ``grader_errors``. The recorded answer is ``extract(completion)`` when
  ``--extract`` is given, else None. Format is the paper's format score on the built-in tasks (they ask
  for it) and null on the custom task.
- `score_samples`: accuracy (mean correctness over samples), format_rate (share with format 10; null
  when not recorded), pass@k and maj@k per problem (`gtpo.eval.metrics`) averaged over problems. With
  the paper's rule maj@k votes with the answers of fully formatted samples, grouped by math
  equivalence; the others abstain, so maj@1 equals accuracy. With a grader, the samples it grades
  correct vote together (they are grader-equivalent through the reference); the others vote with
  their extracted answer (``--extract``; None abstains) or, without one, their whole stripped text,
  and group by exact equality of that text. With a grader, `score` is the mean grader score.
- `eval_table` / `write_summary`: summary.md (metrics in percent) and summary.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gtpo.eval.config import EvalConfig
from gtpo.eval.generate import Completion, derive_seed
from gtpo.eval.metrics import majority_vote_accuracy, pass_at_k, vote_clusters
from gtpo.rewards.extract import FULL_SCORE
from gtpo.run.io import write_text_atomic

__all__ = ["UserGrader", "grade_completions", "score_samples", "eval_table", "write_summary"]


class UserGrader:
    """`--grader` (and `--extract`) loaded once: `grade(texts, answers)` -> [(answer, score, error)]."""

    def __init__(self, grader: str, extract: str | None, timeout: float):
        from gtpo.run.plugins import load_object

        self.spec, self.extract_spec, self.timeout = grader, extract, timeout
        self.fn = load_object(grader, "--grader")
        self.extract = load_object(extract, "--extract") if extract else None
        for option, spec, fn in (("--grader", grader, self.fn), ("--extract", extract, self.extract)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{option}: {spec!r} is a {type(fn).__name__}, not a function")

    def _call(self, fn: Any, *args: Any) -> Any:
        from gtpo.run.guards import call_with_deadline

        return call_with_deadline(lambda: fn(*args), self.timeout)

    def grade(self, texts: Sequence[str], answers: Sequence[Any]) -> list[tuple[str | None, float, str | None]]:
        out = []
        for text, answer in zip(texts, answers, strict=True):
            extracted, error = None, None
            try:
                if self.extract is not None:
                    value = self._call(self.extract, text)
                    extracted = None if value is None else str(value)
                value = self._call(self.fn, text, answer)
                score = float(value)
                if not math.isfinite(score):
                    raise ValueError(f"returned {value!r}, not a finite number")
            except Exception as err:  # noqa: BLE001 - the user's code: scored 0 and counted
                score, error = 0.0, f"{type(err).__name__}: {str(err)[:200]}"
            out.append((extracted, score, error))
        return out


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

    if config.grader is None:
        grader = default_grader()

        def batch_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
            return grader.matches(preds, refs, timeout=config.grade_timeout, tolerance=config.answer_tolerance)

        vote_of, key = lambda r: r["answer"] if r["format"] == FULL_SCORE else None, None  # others abstain
    else:  # a user grader: exact equality of the extracted answer, or of the whole stripped text

        def batch_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
            return [p == r for p, r in zip(preds, refs, strict=True)]

        vote_of = (lambda r: r["answer"]) if config.extract else (lambda r: r["completion"].strip())
        key = str.strip

    by_id: dict[str, dict[int, dict]] = {str(i): {} for i in ids}
    for r in records:
        if r["id"] in by_id and r["sample"] < config.n:
            by_id[r["id"]][r["sample"]] = r
    incomplete = [i for i, got in by_id.items() if len(got) != config.n]
    if incomplete:
        raise ValueError(f"{len(incomplete)} problem(s) lack samples (e.g. {incomplete[0]}); rerun to finish")
    flat = [r for got in by_id.values() for r in got.values()]
    formats = [r.get("format") for r in flat]
    row: dict[str, Any] = {
        "problems": len(by_id),
        "n": config.n,
        "samples": len(flat),
        "accuracy": sum(r["correct"] for r in flat) / len(flat),
        "format_rate": None if None in formats else sum(f == FULL_SCORE for f in formats) / len(flat),
    }
    if config.grader is not None:
        row["score"] = sum(float(r.get("score", r["correct"])) for r in flat) / len(flat)
        row["grader_errors"] = sum(1 for r in flat if r.get("error"))
    pass_sums = dict.fromkeys(config.ks, 0.0)
    maj_sums = dict.fromkeys(config.ks, 0.0)
    for problem, got in enumerate(by_id.values()):
        ordered = [got[s] for s in range(config.n)]
        c = sum(r["correct"] for r in ordered)
        votes = [vote_of(r) for r in ordered]
        labels, cluster_correct = vote_clusters(
            votes, [bool(r["correct"]) for r in ordered], batch_matches=batch_matches, key=key
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
        cells += ["-" if r[m] is None else f"{100 * r[m]:.1f}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        "\n".join(lines) + "\n\nAll metrics in percent; formatting = share of samples with the full format "
        "(- where not recorded: a custom task graded by --grader).\n"
    )


def grading_rule(config: EvalConfig) -> dict[str, Any]:
    """The answer-checking rule of a run, as summary.json records it."""
    if config.grader is not None:
        return {"grader": config.grader, "extract": config.extract,
                "rule": "correct when grader(completion, answer) >= 1.0 (True counts as 1.0)"}  # fmt: skip
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
