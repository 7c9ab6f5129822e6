"""bench_learning's tables: statistics over seeds, phase means, aggregation and the comparison to a reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest


def test_stats_is_the_sample_spread_of_the_finite_values(lt):
    s = lt.stats([1.0, None, 2.0, math.nan, 3.0])
    # mean 2; sample variance ((1-2)^2 + 0 + (3-2)^2) / (3-1) = 1
    assert s == {"n": 3, "mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0, "values": [1.0, 2.0, 3.0]}
    assert lt.stats([0.5])["std"] == 0.0
    assert lt.stats([None, math.inf]) == {"n": 0}


def test_phase_mean_takes_the_fraction_of_steps_and_skips_missing_values(lt):
    values = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert lt.phase_mean(values, 0.0, 0.1) == 0.0  # steps [0, 1)
    assert lt.phase_mean(values, 0.9, 1.0) == 9.0  # steps [9, 10)
    assert lt.phase_mean(values, 0.0, 1.0) == 4.5
    assert lt.phase_mean([None, 2.0, None, 4.0], 0.0, 1.0) == 3.0
    assert lt.phase_mean([5.0, 6.0, 7.0], 0.0, 0.1) == 5.0  # a short run still has its first step
    assert lt.phase_mean([None, None], 0.0, 1.0) is None


def run(tmp: Path, name: str, seed: int, accuracy: float, correct: dict[str, list[bool]], entropy: list[float]) -> dict:
    folder = tmp / f"{name}-s{seed}" / "eval"
    folder.mkdir(parents=True)
    with open(folder / "samples.jsonl", "w") as f:
        for pid, hits in correct.items():
            for hit in hits:
                f.write(json.dumps({"id": pid, "correct": hit}) + "\n")
    metrics = [{"step": i + 1, "accuracy": 0.5, "format_rate": 1.0, "entropy": e} for i, e in enumerate(entropy)]
    return {"name": name, "seed": seed, "eval": {"accuracy": accuracy, "format_rate": 1.0, "pass@2": accuracy},
            "metrics": metrics, "train_s": 10.0, "eval_s": 2.0, "eval_dir": str(folder)}  # fmt: skip


def test_aggregate_and_compare_by_hand(lt, tmp_path):
    # Two problems, two samples each. gtpo solves p1 twice and p2 once in seed 0, p1 once in seed 1;
    # grpo solves p1 once in both seeds. Per-problem means over seeds:
    # gtpo p1 (1 + 0.5) / 2 = 0.75, p2 (0.5 + 0) / 2 = 0.25; grpo p1 0.5, p2 0.
    runs = [
        run(tmp_path, "gtpo", 0, 0.75, {"p1": [True, True], "p2": [True, False]}, [0.4, 0.3, 0.2, 0.1]),
        run(tmp_path, "gtpo", 1, 0.25, {"p1": [True, False], "p2": [False, False]}, [0.4, 0.3, 0.2, 0.3]),
        run(tmp_path, "grpo", 0, 0.25, {"p1": [True, False], "p2": [False, False]}, [0.4, 0.4, 0.4, 0.4]),
        run(tmp_path, "grpo", 1, 0.25, {"p1": [False, True], "p2": [False, False]}, [0.4, 0.4, 0.4, 0.2]),
    ]
    results = lt.aggregate(runs, {"accuracy": 0.1, "format_rate": 0.9, "pass@2": 0.2, "maj@2": 0.1}, [1, 2])
    gtpo = results["configs"]["gtpo"]
    assert gtpo["seeds"] == [0, 1]
    assert gtpo["heldout"]["accuracy"]["mean"] == 0.5
    assert gtpo["heldout"]["accuracy"]["std"] == pytest.approx(math.sqrt(0.125))  # (0.25^2 * 2) / 1
    assert gtpo["training"]["entropy"]["last10%"]["values"] == [0.1, 0.3]  # the last of 4 steps
    assert gtpo["curves"]["entropy"]["mean"] == pytest.approx([0.4, 0.3, 0.2, 0.2])
    assert gtpo["curves"]["entropy"]["min"][3] == 0.1 and gtpo["curves"]["entropy"]["max"][3] == 0.3
    assert gtpo["per_problem"] == {"p1": 0.75, "p2": 0.25}
    assert results["start"]["pass@2"] == 0.2

    d = lt.compare(results, "grpo")["gtpo"]
    assert d["diff"] == pytest.approx(0.25)  # 0.5 - 0.25
    # Welch over seeds: sqrt(0.125 / 2 + 0 / 2) = 0.25
    assert d["seed_se"] == pytest.approx(0.25)
    # per problem: p1 0.75 - 0.5 = 0.25, p2 0.25 - 0 = 0.25: no spread, SE 0 over 2 problems
    assert d["paired_se"] == pytest.approx(0.0) and d["problems"] == 2
    assert "grpo" not in lt.compare(results, "grpo")

    results["comparison"] = lt.compare(results, "grpo")
    md = lt.table(results, [1, 2], "grpo").splitlines()
    assert md[0].startswith("| config | seeds | held-out accuracy | format_rate | pass@2 | maj@2 | acc. - grpo")
    assert md[2] == "| warm start | - | 0.100 | 0.900 | 0.200 | 0.100 | | | | |"
    assert "| gtpo | 2 | 0.500 ± 0.354 [0.250, 0.750] |" in md[3] and "+0.250 (0.250 / 0.000)" in md[3]


def test_plot_writes_a_figure(lt, tmp_path):
    runs = [run(tmp_path, "gtpo", s, 0.5, {"p1": [True, False]}, [0.3, 0.2]) for s in (0, 1)]
    results = lt.aggregate(runs, {"accuracy": 0.4, "format_rate": 1.0}, [1])
    path = tmp_path / "img" / "bench.png"
    lt.plot(results, {"panel": ("gtpo", "absent")}, path, "title")
    assert path.stat().st_size > 1000
