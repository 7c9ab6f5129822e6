"""The docs figure checker: the repository's stated figures agree with their JSON, and the checker
catches a wrong figure, a wrong precision and a reworded sentence on hand-made docs."""

from __future__ import annotations

import json

import pytest

from .conftest import load


@pytest.fixture(scope="module")
def cdf():
    return load("check_docs_figures")


def test_every_stated_figure_agrees_with_the_committed_json(cdf):
    figures = load("doc_figures").FIGURES
    assert len(figures) >= 20
    assert cdf.check(figures) == []


@pytest.fixture()
def repo(tmp_path):
    (tmp_path / "docs" / "img").mkdir(parents=True)
    (tmp_path / "docs" / "img" / "r.json").write_text(json.dumps(
        {"differences": {"gtpo-grpo": {"mean": -0.0275, "se": 0.014910747868904861}},
         "configs": {"a": {"heldout": {"accuracy": {"values": [0.5, 0.4, 0.3]}}},
                     "b": {"heldout": {"accuracy": {"values": [0.4, 0.4, 0.1]}}}},
         "train_s": 2420.4}))  # fmt: skip
    return tmp_path


def figure(cdf, text):
    src = "docs/img/r.json"
    return cdf.Figure("docs/x.md", text, [cdf.value(src, "differences", "gtpo-grpo", "mean"),
                                          cdf.value(src, "differences", "gtpo-grpo", "se")])  # fmt: skip


def test_a_figure_is_read_at_its_written_precision(cdf, repo):
    doc = repo / "docs" / "x.md"
    doc.write_text("seed 1: GTPO - GRPO\n-0.028 +- 0.015, the JSON's values.\n")
    assert cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo) == []
    doc.write_text("seed 1: GTPO - GRPO -0.028 +- 0.0149, the JSON's values.\n")
    assert cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo) == []


def test_a_wrong_figure_fails(cdf, repo):
    (repo / "docs" / "x.md").write_text("seed 1: GTPO - GRPO -0.028 +- 0.018, the JSON's values.\n")
    (problem,) = cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo)
    assert "0.018" in problem and "0.0149" in problem
    (repo / "docs" / "x.md").write_text("seed 1: GTPO - GRPO -0.03 +- 0.015, the JSON's values.\n")
    assert len(cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo)) == 0  # -0.0275 is -0.03 at 2 decimals
    (repo / "docs" / "x.md").write_text("seed 1: GTPO - GRPO -0.029 +- 0.015, the JSON's values.\n")
    assert len(cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo)) == 1


def test_every_occurrence_is_checked_and_a_reworded_text_is_reported(cdf, repo):
    (repo / "docs" / "x.md").write_text("GTPO - GRPO -0.028 +- 0.015, the first; GTPO - GRPO -0.028 +- 0.021, the second\n")
    assert len(cdf.check([figure(cdf, "GTPO - GRPO {} +- {}, the")], repo)) == 1
    (problem,) = cdf.check([figure(cdf, "GTPO minus GRPO {} +- {}")], repo)
    assert "text not found" in problem


def test_derived_sources(cdf, repo):
    src = "docs/img/r.json"
    a, b = cdf.seed_values(src, "a", "accuracy"), cdf.seed_values(src, "b", "accuracy")
    # per-seed a - b = 0.1, 0.0, 0.2: mean 0.1, SD 0.1, SE 0.1 / sqrt(3) = 0.0577
    assert cdf.paired(src, "a", "b")(repo) == pytest.approx(0.1)
    assert cdf.paired(src, "a", "b", what="se")(repo) == pytest.approx(0.1 / 3**0.5)
    assert cdf.count_pairs(a, b, 1)(repo) == 2 and cdf.count_pairs(a, b, 0)(repo) == 1
    assert cdf.count(b, 0.2)(repo) == 1
    # Fisher, two-sided: 1 of 6 against 3 of 6 -> 0.545 (tables as likely or less: x = 0, 1, 3, 4)
    one, three = (lambda root: 1.0), (lambda root: 3.0)
    assert cdf.fisher_two_sided(one, 6, three, 6)(repo) == pytest.approx(0.5454545, abs=1e-6)
    (repo / "docs" / "x.md").write_text("training took 1,949-2,420 s.\n")
    fig = cdf.Figure("docs/x.md", "training took 1,949-{} s.", [cdf.extreme("docs/img/*.json", "train_s", max)])
    assert cdf.check([fig], repo) == []


def test_one_source_per_number(cdf):
    with pytest.raises(ValueError, match="one source per number"):
        cdf.Figure("docs/x.md", "{} and {}", [lambda root: 0.0])


def test_pass_at_k_from_committed_samples(cdf, repo):
    # run s0: problem p has 1 of 2 correct, problem q 0 of 2 -> pass@1 (0.5 + 0) / 2 = 0.25,
    # pass@2 (1 - C(1,2)/C(2,2) = 1, and 0) / 2 = 0.5; run s1 (listed first on disk): both problems 2 of 2 -> 1
    for name, correct in (("x-s1-aa", [True, True, True, True]), ("x-s0-bb", [True, False, False, False])):
        folder = repo / "runs" / name / "eval"
        folder.mkdir(parents=True)
        cells = [("p", 0), ("p", 1), ("q", 0), ("q", 1)]
        rows = [{"id": pid, "sample": s, "correct": c} for (pid, s), c in zip(cells, correct, strict=True)]
        (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cdf.sample_passk("runs/x-s*/eval/samples.jsonl", 1)(repo) == [0.25, 1.0]  # seed order
    assert cdf.sample_passk("runs/x-s*/eval/samples.jsonl", 2)(repo) == [0.5, 1.0]
    ones = lambda root: [1.0, 1.0]  # noqa: E731
    assert cdf.paired_values(ones, cdf.sample_passk("runs/x-s*/eval/samples.jsonl", 2))(repo) == pytest.approx(0.25)


@pytest.mark.parametrize(("diffs", "t", "p"), [
    ([0.109375, 0.046875], 2.5, 0.242238),  # 1 df: p = 1 - 2 atan(2.5) / pi
    ([0.1, 0.2, 0.3], 3.4641, 0.074180),    # mean 0.2, SE 0.1 / sqrt 3, t = 2 sqrt 3; 2 df: 1 - t / sqrt 14
])
def test_t_test_closed_forms(tmp_path, diffs, t, p):
    df = load("doc_figures")
    n, mean = len(diffs), sum(diffs) / len(diffs)
    se = (sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) ** 0.5
    (tmp_path / df.MAP).parent.mkdir(parents=True)
    (tmp_path / df.MAP).write_text(json.dumps({"suites": {"s": {"pass@1": {"n": n, "mean": mean, "se": se}}}}))
    get_t, get_p = df.t_test("s", 1)
    assert get_t(tmp_path) == pytest.approx(t, abs=1e-4) and get_p(tmp_path) == pytest.approx(p, abs=1e-6)


def test_t_test_refuses_other_seed_counts(tmp_path):
    df = load("doc_figures")
    (tmp_path / df.MAP).parent.mkdir(parents=True)
    (tmp_path / df.MAP).write_text(json.dumps({"suites": {"s": {"pass@16": {"n": 4, "mean": 0.1, "se": 0.05}}}}))
    with pytest.raises(ValueError, match="2-3 seeds, the map has 4"):
        df.t_test("s", 16)[1](tmp_path)
