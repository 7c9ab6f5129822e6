"""gtpo demo --fast end to end: the report exists and holds this run's numbers."""

from __future__ import annotations

import json

import pytest

from gtpo.demo import DemoConfig, write_recipe
from gtpo.eval.metrics import paired_difference


def test_fast_overrides_only_defaults_and_checks(tmp_path):
    config = DemoConfig(fast=True, rl_steps=7)
    assert config.rl_steps == 7 and config.sft_steps == 40 and config.group_size == 4
    with pytest.raises(ValueError, match="group_size"):
        DemoConfig(group_size=1)
    recipe = write_recipe(DemoConfig(arith_max_steps=1), tmp_path / "model", tmp_path / "r.yaml").read_text()
    assert "max_steps: 1" in recipe  # the task difficulty reaches `gtpo train` as task_options
    # the defaults: operands 1-5 and imperfect demonstrations (30% miscopied answers) for the warm start
    import yaml

    defaults = yaml.safe_load(write_recipe(DemoConfig(), tmp_path / "model", tmp_path / "d.yaml").read_text())
    assert defaults["task_options"] == {"max_steps": 2, "max_operand": 5, "answer_noise": 0.3}
    assert (
        "per_device_train_batch_size: 32" in recipe
        and "num_generations: 8" in recipe
        and "beta: 0.0" in recipe
    )


@pytest.mark.slow
def test_demo_fast_writes_a_report_from_this_run(tmp_path, capsys):
    from gtpo.demo.pipeline import main

    out, cache = tmp_path / "demo", tmp_path / "cache"
    assert main(["--fast", "--output_dir", str(out), "--cache_dir", str(cache), "--threads", "1"]) == 0
    report = out / "report"
    assert capsys.readouterr().out.strip().endswith(str(report / "summary.md"))
    for name in ("summary.md", "overview.png", "accuracy.png", "format_rate.png", "entropy.png", "conflict_frac.png",
                 "conflicts.html"):  # fmt: skip
        assert (report / name).stat().st_size > 0, name
    summary = (report / "summary.md").read_text()
    # The evaluation table holds the numbers `gtpo.eval` wrote for this run.
    results = json.loads((out / "eval" / "summary.json").read_text())["results"]
    assert [row["model"] for row in results] == ["start", "gtpo", "grpo"]
    for row in results:
        assert f"| {row['model']} | {row['accuracy']:.3f} | {row['format_rate']:.3f} |" in summary
        assert row["samples"] == 12 * 2
    # The training table holds the runs' own logged metrics (4 steps each).
    for algo in ("gtpo", "grpo"):
        rows = [json.loads(line) for line in (out / algo / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == [1, 2, 3, 4]
        entropy = rows[-1]["entropy"]  # tail 10% of 4 steps = the last step
        assert f"| {algo} | 4 | " in summary and f"{entropy:.3f} / " in summary
    assert "**gtpo, step" in summary  # a conflict-token group from this GTPO run
    assert (cache / "tiny-seed0" / "config.json").is_file()
    # demo.json: the outcome for scripts, the same numbers as eval/summary.json, differences paired by problem
    outcome = json.loads((out / "demo.json").read_text())
    for row in results:
        model = outcome["models"][row["model"]]
        assert model["accuracy"] == row["accuracy"] and model["format_rate"] == row["format_rate"]
    from gtpo.eval.metrics import per_problem_accuracy

    per = {row["model"]: per_problem_accuracy(out / "eval" / row["dir"] / "samples.jsonl") for row in results}
    for pair in ("gtpo-start", "grpo-start", "gtpo-grpo"):
        a, b = pair.split("-")
        mean, se, n = paired_difference(per[a], per[b])
        assert outcome["differences"][pair] == {"mean": mean, "se": se, "problems": n}
    assert outcome["seconds"]["total"] > 0 and outcome["settings"]["rl_steps"] == 4
    assert outcome["torch_threads"] == 1  # --threads 1: the count the run used, recorded
    # the warm start's cache entry is keyed by the thread count too: one sft-* folder for this run's count
    assert len(list(cache.glob("sft-*"))) == 1
    assert "## What GTPO did differently" in summary


def test_progress_bars_become_a_few_plain_lines_when_not_a_terminal():
    import io

    from gtpo.demo.pipeline import LineProgress

    out = io.StringIO()
    stream = LineProgress(out, interval=3600)
    stream.write("[2/6] warm start\n")
    for step in range(1000):  # tqdm: '\r' + the redrawn bar, then '\n' when the bar closes
        stream.write(f"\r{step}/1000")
    stream.write("\r1000/1000\n")
    stream.write("done\n")
    # the first redraw, the bar's final state, and the plain lines: not a thousand redraws
    assert out.getvalue().splitlines() == ["[2/6] warm start", "0/1000", "1000/1000", "done"]
    assert "\r" not in out.getvalue()
