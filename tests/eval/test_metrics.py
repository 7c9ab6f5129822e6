
"""pass@k against exact combinatorics; maj@k on hand-made votes and against a brute-force loop."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from fractions import Fraction

import pytest

from gtpo.eval.metrics import (
    cluster_answers,
    maj_at_k,
    majority_vote_accuracy,
    paired_difference,
    pass_at_k,
    vote_clusters,
    vote_key,
)


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


# ---------------------------------------------------------------- pass@k


@pytest.mark.parametrize(
    "n,c,k",
    [
        (1, 0, 1),
        (1, 1, 1),
        (5, 2, 1),
        (5, 2, 3),
        (5, 2, 4),
        (16, 3, 8),
        (64, 1, 64),
        (64, 0, 32),
        (64, 7, 16),
    ],
)
def test_pass_at_k_small_cases(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_hand_computed():
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    # pass@1 is the fraction correct: 3/10
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # n - c < k: some correct sample is always drawn
    assert pass_at_k(10, 8, 3) == 1.0


def test_pass_at_k_matches_combinatorics_on_many_cases_up_to_1024():
    rng = random.Random(0)
    cases = [(1024, c, k) for c in (0, 1, 2, 10, 100, 512, 1000, 1023, 1024) for k in (1, 8, 64, 512, 1024)]
    for _ in range(300):
        n = rng.randint(1, 1024)
        cases.append((n, rng.randint(0, n), rng.randint(1, n)))
    for n, c, k in cases:
        got, want = pass_at_k(n, c, k), exact_pass_at_k(n, c, k)
        assert 0.0 <= got <= 1.0
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (n, c, k)


def test_pass_at_k_is_monotone_in_k_and_c():
    n = 64
    for c in range(0, n + 1, 7):
        vals = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert all(a <= b + 1e-15 for a, b in zip(vals, vals[1:], strict=False))
    for k in (1, 8, 64):
        vals = [pass_at_k(n, c, k) for c in range(n + 1)]
        assert all(a <= b + 1e-15 for a, b in zip(vals, vals[1:], strict=False))


@pytest.mark.parametrize(
    "n,c,k,message",
    [
        (4, 1, 5, "k = 5 exceeds n = 4"),
        (4, 5, 1, "exceeds n"),
        (4, -1, 1, "c must be >= 0"),
        (-4, 1, 1, "n must be >= 0"),
        (4, 1, 0, "k must be >= 1"),
        (4, 1, -2, "k must be >= 0"),
    ],
)
def test_pass_at_k_rejects_bad_input(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_pass_at_k_rejects_non_integers():
    with pytest.raises(TypeError, match="n must be an int"):
        pass_at_k(4.0, 1, 1)


# ---------------------------------------------------------------- maj@k, with a string-equality checker


def strict(a: str, b: str) -> bool:
    return a == b


def brute_force_maj(labels, cluster_correct, k):
    """Loop reference: every k-subset, Counter vote, ties scored as a uniform pick."""
    scores = []
    for subset in itertools.combinations(range(len(labels)), k):
        votes = Counter(labels[i] for i in subset if labels[i] is not None)
        if not votes:
            scores.append(0.0)
            continue
        top = max(votes.values())
        tied = [lab for lab, v in votes.items() if v == top]
        scores.append(sum(cluster_correct[lab] for lab in tied) / len(tied))
    return sum(scores) / len(scores)


def test_maj_clear_majority():
    assert maj_at_k(["1", "1", "2"], "1", 3, matches=strict) == 1.0
    assert maj_at_k(["1", "2", "2"], "1", 3, matches=strict) == 0.0


def test_maj_tie_counts_fractionally():
    # {1, 2}: one vote each; a uniform pick among the tied answers is right half of the time
    assert maj_at_k(["1", "2"], "1", 2, matches=strict) == 0.5
    # three-way tie with one right answer: 1/3
    assert maj_at_k(["1", "2", "3"], "2", 3, matches=strict) == pytest.approx(1 / 3)


def test_maj_hand_computed_subsets():
    # n=3, k=2, answers a a b, a right. Subsets {0,1}: a wins -> 1; {0,2}, {1,2}: tie -> 0.5 each.
    # maj@2 = (1 + 0.5 + 0.5) / 3 = 2/3
    assert maj_at_k(["a", "a", "b"], "a", 2, matches=strict) == pytest.approx(2 / 3)


def test_maj_abstentions_never_win():
    # one vote for "3" beats two abstentions
    assert maj_at_k([None, None, "3"], "3", 3, matches=strict) == 1.0
    assert maj_at_k([None, None, "4"], "3", 3, matches=strict) == 0.0
    # all abstain: 0; blank answers abstain too
    assert maj_at_k([None, "  "], "3", 2, matches=strict) == 0.0
    # k=1: the subset {None} scores 0, {"3"} scores 1
    assert maj_at_k([None, "3"], "3", 1, matches=strict) == 0.5


def test_maj_at_1_is_the_fraction_of_right_answers():
    answers = ["1", "2", "1", None, "5", "1"]
    assert maj_at_k(answers, "1", 1, matches=strict) == pytest.approx(3 / 6)


def test_maj_vectorised_equals_loop_over_random_cases():
    for seed in range(40):
        rng = random.Random(seed)
        n = rng.randint(1, 8)
        clusters = rng.randint(1, 4)
        labels = [None if rng.random() < 0.2 else rng.randrange(clusters) for _ in range(n)]
        correct = [rng.random() < 0.4 for _ in range(clusters)]
        for k in range(1, n + 1):
            got = majority_vote_accuracy(labels, correct, k)
            assert got == pytest.approx(brute_force_maj(labels, correct, k), abs=1e-12), (seed, k)


def test_maj_sampled_estimate_is_close_and_reproducible():
    rng = random.Random(1)
    labels = [rng.choice([0, 0, 0, 1, 1, 2, None]) for _ in range(14)]
    correct = [False, True, False]
    exact = brute_force_maj(labels, correct, 6)  # C(14, 6) = 3003 subsets
    sampled = majority_vote_accuracy(labels, correct, 6, num_subsets=2000, seed=3)
    assert math.comb(14, 6) > 2000  # really the sampled path
    assert sampled == pytest.approx(exact, abs=0.05)  # 5 standard errors at most 0.011
    assert sampled == majority_vote_accuracy(labels, correct, 6, num_subsets=2000, seed=3)
    # k == n is a single subset: exact
    assert majority_vote_accuracy(labels, correct, 14) == brute_force_maj(labels, correct, 14)


def test_maj_scales_to_1024_samples():
    labels = [i % 3 for i in range(1024)]  # 342 zeros, 341 ones, 341 twos
    assert majority_vote_accuracy(labels, [True, False, False], 1024) == 1.0
    # k = 1 is enumerated (1024 single-sample subsets > num_subsets): exactly the share of zeros
    assert majority_vote_accuracy(labels, [True, False, False], 1) == 342 / 1024
    value = majority_vote_accuracy(labels, [True, False, False], 64, num_subsets=500)
    assert 0.2 < value < 0.6


def test_maj_rejects_bad_k():
    with pytest.raises(ValueError, match="k = 4 must be in 1..n = 3"):
        maj_at_k(["1", "1", "2"], "1", 4, matches=strict)
    with pytest.raises(ValueError, match="num_subsets"):
        majority_vote_accuracy([0], [True], 1, num_subsets=0)


# ---------------------------------------------------------------- grouping


def test_normalize_answer_cheap_forms():
    assert vote_key("1,000") == vote_key("1000")
    assert vote_key(" $42$. ") == "42"
    assert vote_key("\\boxed{7}") == "7"
    assert vote_key("(1,234)") != vote_key("(1234)")  # a pair, not a number


def test_cluster_calls_the_checker_once_per_cluster_at_most():
    calls = []

    def counting(a, b):
        calls.append((a, b))
        return a == b

    labels = cluster_answers(["1", "1,000", "1000", "2", None, "1", "3"], matches=counting)
    assert labels == [0, 1, 1, 2, None, 0, 3]
    # "1000" and the repeated "1" are grouped by normal form without a checker call
    assert ("1000", "1,000") not in calls and len(calls) == 0 + 1 + 2 + 3


def test_cluster_with_a_batch_checker_makes_one_call_per_new_form():
    calls = []

    def batch(preds, refs):
        calls.append(len(preds))
        return [p == r for p, r in zip(preds, refs, strict=True)]

    labels = cluster_answers(["a", "b", "a", "$b$", "c", None], batch_matches=batch)
    assert labels == [0, 1, 0, 1, 2, None]
    assert calls == [1, 2]  # "a": no representatives yet; "b" against 1; "c" against 2 (repeats are free)


def test_vote_clusters_anchor_the_right_answers_on_the_reference():
    # the reference-matching answers form cluster 0 without being compared with each other
    labels, cluster_correct = vote_clusters(
        ["60", "6", "60.0", None, "6"], [True, False, True, True, False], matches=strict
    )
    assert labels == [0, 1, 0, None, 1]  # None abstains even if flagged correct
    assert cluster_correct == [True, False]
    labels, cluster_correct = vote_clusters(["1", "2", "1"], [False, False, False], matches=strict)
    assert (labels, cluster_correct) == ([0, 1, 0], [False, False])
    with pytest.raises(ValueError, match="differ in length"):
        vote_clusters(["1"], [True, False])


# ---------------------------------------------------------------- maj@k with the real answer checker


def test_maj_groups_equivalent_but_different_strings():
    # string equality would give a three-way tie (2/3); equivalence groups 0.5 with \frac{1}{2}
    assert maj_at_k(["0.5", "\\frac{1}{2}", "3"], "\\frac{1}{2}", 3) == 1.0
    assert maj_at_k(["0.5", "\\frac{1}{2}", "3", "3", "3"], "0.5", 5) == 0.0
    assert maj_at_k(["1,000", "1000", "7"], "1000", 3) == 1.0
    assert cluster_answers(["0.5", "\\frac{1}{2}", "1/2", "2"]) == [0, 0, 0, 1]
    # symbolic equivalence (math-verify in the grader's worker processes)
    assert cluster_answers(["3\\sqrt{2}", "\\sqrt{18}", "x+1"]) == [0, 0, 1]


def test_per_problem_accuracy_from_samples_file(tmp_path):
    from gtpo.eval.metrics import per_problem_accuracy

    path = tmp_path / "samples.jsonl"
    rows = [
        {"id": "a", "correct": True},
        {"id": "a", "correct": False},  # a: 1 of 2 -> 0.5
        {"id": 7, "correct": True},  # ids become strings: "7": 1 of 1 -> 1.0
        {"id": "b", "correct": False},  # b: 0 of 1 -> 0.0
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")  # blank lines are skipped
    assert per_problem_accuracy(path) == {"a": 0.5, "7": 1.0, "b": 0.0}


def test_paired_difference_by_hand():
    # per-problem diffs: 1-0=1, 0.5-0.5=0, 0-0.5=-0.5 -> mean 1/6; sample var = ((5/6)^2+(1/6)^2+(2/3)^2)/2 = 7/12
    diff, se, n = paired_difference({"a": 1.0, "b": 0.5, "c": 0.0, "x": 1.0}, {"a": 0.0, "b": 0.5, "c": 0.5})
    assert n == 3
    assert diff == pytest.approx(1 / 6)
    assert se == pytest.approx((7 / 12 / 3) ** 0.5)
