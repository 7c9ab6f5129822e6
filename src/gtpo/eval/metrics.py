"""Sampling metrics: the unbiased pass@k estimator and majority-vote accuracy maj@k.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): with n samples of
which c are correct, the probability that at least one of k samples drawn without replacement is
correct is

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)

The product form is used: every factor lies in [0, 1], so it neither overflows (C(1024, 512) has
307 digits) nor cancels, and it is exact to a few ulps for any n. It equals 1 when n - c < k.

maj@k: draw k of the n samples, let them vote with their final answers, and score the winning
answer. Answers are grouped by mathematical equivalence (`gtpo.rewards.answer_matches`), not by
string equality, so "0.5" and "\\frac{1}{2}" vote together. Samples without an answer (None: not
extracted, or not gradable) abstain; they never win a vote. The estimator is the expectation over
uniformly random k-subsets of the n samples:

- exact when C(n, k) <= max(`num_subsets`, n): all subsets are enumerated (always for k = 1,
  k = n - 1 and k = n);
- otherwise the mean over `num_subsets` subsets drawn with a seeded generator (`seed`), so the
  value is reproducible; its standard error is at most 0.5 / sqrt(num_subsets).

Ties: when several answer groups share the top vote count, the vote is scored as the expected
correctness of a uniformly random pick among them (e.g. a tie between one correct and one wrong
answer scores 0.5). A subset in which every sample abstains scores 0.

Grouping (`vote_clusters`): the answers that match the reference form one cluster, the correct
one (each answer is checked against the reference once: that is its grade). The wrong answers are
clustered among themselves (`cluster_answers`): an answer joins the cluster of any earlier answer
with the same `vote_key` form; failing that, the first cluster whose representative (first
member) is equivalent by the checker; otherwise it opens a new cluster. With a transitive checker this is the partition into
equivalence classes; anchoring the correct cluster on the reference keeps it exact when the
checker's 1e-2 tolerance is not transitive. Cost: O(n * clusters) checks per problem, the cheap
string comparison first, and with `batch_matches` one batched call per new answer (the runner
passes the `gtpo.rewards` worker-pool grader); every vote after that is integer counting.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "pass_at_k",
    "cluster_answers",
    "vote_clusters",
    "majority_vote_accuracy",
    "maj_at_k",
    "vote_key",
    "paired_difference",
    "per_problem_accuracy",
]

MatchFn = Callable[[str, str], bool]
BatchMatchFn = Callable[[Sequence[str], Sequence[str]], Sequence[bool]]


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimate from `n` samples of which `c` are correct (see module docstring).

    Raises ValueError for negative values, c > n, k == 0 or k > n (pass@k needs at least k samples).
    """
    n, c, k = _check_int("n", n), _check_int("c", c), _check_int("k", k)
    if c > n:
        raise ValueError(f"c (correct samples) = {c} exceeds n (samples) = {n}")
    if k == 0:
        raise ValueError("k must be >= 1")
    if k > n:
        raise ValueError(f"k = {k} exceeds n = {n}: pass@k needs at least k samples per problem; raise n")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


_LATEX_NOISE = re.compile(r"\\[,;:! ]|\\left|\\right|\$|\s")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def vote_key(answer: str) -> str:
    """Cheap canonical form for the first-pass grouping: drops whitespace, `$`, LaTeX spacing and
    \\left/\\right, thousands separators ("1,000" -> "1000"), a trailing period, and \\text{...} /
    \\boxed{...} wrappers around the whole answer. Equal normal forms are treated as equivalent
    without calling the (slow) math checker; unequal ones go to the checker."""
    s = _LATEX_NOISE.sub("", answer)
    s = s.rstrip(".")
    if _THOUSANDS.fullmatch(s):  # only a whole number: "(1,234)" is a pair, not 1234
        s = s.replace(",", "")
    for wrapper in ("\\boxed{", "\\text{", "\\mathrm{"):
        if s.startswith(wrapper) and s.endswith("}"):
            s = s[len(wrapper) : -1]
    return s


def _default_matches() -> MatchFn:
    from gtpo.rewards import answer_matches

    return answer_matches


def cluster_answers(
    answers: Sequence[str | None],
    *,
    matches: MatchFn | None = None,
    batch_matches: BatchMatchFn | None = None,
    key: Callable[[str], str] | None = None,
) -> list[int | None]:
    """Label each answer with the index of its equivalence cluster (None stays None: abstains).

    Cluster ids are assigned in order of first appearance (0, 1, ...). An answer joins the cluster
    of any earlier answer with the same `vote_key` form; failing that, the first cluster
    whose representative (its first member) is equivalent by the checker; otherwise it opens a new
    cluster. The checker is
    `batch_matches(preds, refs) -> list[bool]` when given (one call per answer with an unseen
    normal form, against all representatives), else `matches(pred, ref)` one pair at a time
    (default `gtpo.rewards.answer_matches`). Empty/blank answers abstain. `key` replaces `vote_key` as
    the first-pass normal form (`str.strip` with an exact-equality checker: grouping by exact text).
    """
    key = key or vote_key
    if batch_matches is None:
        match = matches or _default_matches()

        def batch_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
            for i, (pred, ref) in enumerate(zip(preds, refs, strict=True)):
                if match(pred, ref):  # stop at the first hit
                    return [False] * i + [True]
            return [False] * len(preds)

    labels: list[int | None] = []
    reps: list[str] = []
    norms: dict[str, int] = {}
    for answer in answers:
        if answer is None or not answer.strip():
            labels.append(None)
            continue
        norm = key(answer)
        label = norms.get(norm)
        if label is None:
            hits = list(batch_matches([answer] * len(reps), reps)) if reps else []
            label = hits.index(True) if True in hits else len(reps)
            if label == len(reps):
                reps.append(answer)
            norms[norm] = label
        labels.append(label)
    return labels


def vote_clusters(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    *,
    matches: MatchFn | None = None,
    batch_matches: BatchMatchFn | None = None,
    key: Callable[[str], str] | None = None,
) -> tuple[list[int | None], list[bool]]:
    """(labels, cluster_correct) for `majority_vote_accuracy`: the voting answers graded correct
    (`correct[i]`, i.e. matching the reference) form cluster 0; the wrong ones are clustered among
    themselves by `cluster_answers` (`key`: its first-pass normal form). None answers abstain whatever
    `correct` says."""
    if len(answers) != len(correct):
        raise ValueError(f"answers and correct differ in length: {len(answers)} != {len(correct)}")
    voting = [a is not None and bool(a.strip()) for a in answers]
    has_right = any(v and c for v, c in zip(voting, correct, strict=True))
    wrong = [a if v and not c else None for a, v, c in zip(answers, voting, correct, strict=True)]
    wrong_labels = cluster_answers(wrong, matches=matches, batch_matches=batch_matches, key=key)
    offset = int(has_right)
    labels: list[int | None] = []
    for v, c, w in zip(voting, correct, wrong_labels, strict=True):
        labels.append(None if not v else 0 if c else w + offset)  # type: ignore[operator]
    num_wrong = max((w for w in wrong_labels if w is not None), default=-1) + 1
    return labels, [True] * offset + [False] * num_wrong


def majority_vote_accuracy(
    labels: Sequence[int | None],
    cluster_correct: Sequence[bool],
    k: int,
    *,
    num_subsets: int = 1000,
    seed: int = 0,
) -> float:
    """maj@k from cluster labels: `labels[i]` is sample i's cluster (None abstains) and
    `cluster_correct[j]` says whether cluster j's answer is right. Estimator and ties: see the
    module docstring."""
    n = len(labels)
    k = _check_int("k", k)
    if k == 0 or k > n:
        raise ValueError(f"k = {k} must be in 1..n = {n}: maj@k needs at least k samples per problem")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    num_clusters = len(cluster_correct)
    lab = np.array([num_clusters if x is None else x for x in labels], dtype=np.int64)  # (n,)
    if lab.size and lab.max() > num_clusters:
        raise ValueError(f"a label exceeds the {num_clusters} clusters given in cluster_correct")
    if num_clusters == 0:
        return 0.0
    if math.comb(n, k) <= max(num_subsets, n):  # k = 1 and k = n - 1 are always exact
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)  # (S, k)
    else:
        rng = np.random.default_rng(seed)
        keys = rng.random((num_subsets, n))  # (S, n): the k smallest keys of a row are a uniform k-subset
        subsets = np.argpartition(keys, k - 1, axis=1)[:, :k]  # (S, k)
    votes = lab[subsets]  # (S, k) cluster ids, num_clusters = abstain
    # Per-subset vote counts via one bincount over offset ids; the abstain column is dropped.
    width = num_clusters + 1
    offsets = np.arange(len(subsets))[:, None] * width  # (S, 1)
    counts = np.bincount((votes + offsets).ravel(), minlength=len(subsets) * width)
    counts = counts.reshape(len(subsets), width)[:, :num_clusters]  # (S, C)
    top = counts.max(axis=1, keepdims=True)  # (S, 1)
    tied = (counts == top) & (top > 0)  # (S, C) clusters sharing the top count
    correct = np.asarray(cluster_correct, dtype=bool)[None, :]  # (1, C)
    n_tied = tied.sum(axis=1)  # (S,)
    score = np.where(n_tied > 0, (tied & correct).sum(axis=1) / np.maximum(n_tied, 1), 0.0)
    return float(score.mean())


def maj_at_k(
    answers: Sequence[str | None],
    reference: str,
    k: int,
    *,
    num_subsets: int = 1000,
    seed: int = 0,
    matches: MatchFn | None = None,
) -> float:
    """maj@k of one problem's sampled `answers` against `reference` (module docstring: grouping,
    estimator, ties, abstentions). `matches` defaults to `gtpo.rewards.answer_matches`."""
    match = matches or _default_matches()
    correct = [a is not None and bool(a.strip()) and bool(match(a, reference)) for a in answers]
    labels, cluster_correct = vote_clusters(answers, correct, matches=match)
    return majority_vote_accuracy(labels, cluster_correct, k, num_subsets=num_subsets, seed=seed)


def per_problem_accuracy(samples_file: str | Path) -> dict[str, float]:
    """Per problem id of an evaluation's samples.jsonl: the share of its samples that are correct."""
    from gtpo.run.io import read_jsonl

    hits: dict[str, list[bool]] = {}
    for record in read_jsonl(samples_file, torn="error"):
        hits.setdefault(str(record["id"]), []).append(bool(record["correct"]))
    return {key: sum(v) / len(v) for key, v in hits.items()}


def paired_difference(a: dict[str, float], b: dict[str, float]) -> tuple[float, float, int]:
    """Per-problem paired comparison of two models: (mean of a - b over the problems both have, its
    standard error over problems, number of problems); (nan, nan, 0) when they share none."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return math.nan, math.nan, 0
    diffs = [a[k] - b[k] for k in keys]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / max(1, len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs)), len(diffs)
