"""gtpo.report on synthetic run folders shaped like `gtpo train` output."""

from __future__ import annotations

import json
import math

import pytest

from gtpo.report import load_run, main, smooth, summarize


def _write_run(path, *, n_steps=20, offset=0.0, conflicts=True, partial_tail=False):
    path.mkdir(parents=True)
    with open(path / "metrics.jsonl", "w") as f:
        for step in range(1, n_steps + 1):
            row = {
                "step": step,
                "loss": 0.1,
                "reward": 10 + step * 0.1,
                "format_rate": min(1.0, 0.5 + step / 40),
                "accuracy": offset + step / 100,
                "entropy": 1.0 - step / 100,
                "completion_length": 30,
            }
            if conflicts:
                row |= {"conflict_frac_pos": 0.2, "conflict_frac_neg": 0.1, "filtered_frac": 0.0}
            if step == 3:
                row["entropy"] = float("nan")  # skipped, not plotted or averaged
                row["accuracy"] = None
            f.write(json.dumps(row) + "\n")
        if partial_tail:
            f.write('{"step": 21, "accu')
    if conflicts:
        group = {
            "step": n_steps,
            "completions": [
                {
                    "tokens": ["<reasoning>", "Ċ", "7", "</answer>"],
                    "weights": [2.0, 2.0, 1.0, 2.0],
                    "advantage": 1.0,
                    "reward": 20.0,
                },
                {
                    "tokens": ["<reasoning>", "Ċ", "8", "</answer>"],
                    "weights": [0.0, 0.0, 1.0, 0.0],
                    "advantage": -1.0,
                    "reward": 10.0,
                },
            ],
        }
        (path / "conflict_samples.jsonl").write_text(json.dumps(group) + "\n")
    (path / "run_config.yaml").write_text("algo: gtpo\nlearning_rate: 1.0e-5\n")
    return path


def test_smooth_and_summarize_by_hand():
    # window 2: [1, (1+3)/2, (3+5)/2]
    assert smooth([1.0, 3.0, 5.0], 2) == [1.0, 2.0, 4.0]
    # tail 0.25 of 4 values -> last 1 value; mean of all = 2.5
    assert summarize([1.0, 2.0, 3.0, 4.0], 0.25) == (4.0, 2.5)
    # tail 0.5 of 3 values -> ceil(1.5) = 2 values: (2+3)/2
    assert summarize([1.0, 2.0, 3.0], 0.5) == (2.5, 2.0)


def test_load_run_skips_missing_values_and_partial_tail(tmp_path):
    run = load_run(_write_run(tmp_path / "gtpo", partial_tail=True))
    steps, values = run.series("accuracy")
    assert len(values) == 19 and 3.0 not in steps  # the null at step 3 is dropped
    assert all(math.isfinite(v) for v in run.series("entropy")[1])
    assert run.algo == "gtpo"
    assert len(run.metrics) == 20  # the partial last line is skipped


def test_cli_two_runs_overlaid(tmp_path, capsys):
    a = _write_run(tmp_path / "gtpo", offset=0.3)
    b = _write_run(tmp_path / "grpo", offset=0.0, conflicts=False)
    out = tmp_path / "report"
    assert main([str(a), str(b), "--output", str(out), "--tail", "0.1"]) == 0
    assert str(out / "summary.md") in capsys.readouterr().out
    for name in ("overview.png", "accuracy.png", "format_rate.png", "entropy.png", "conflict_frac.png"):
        assert (out / name).stat().st_size > 1000
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    # accuracy final = mean of the last ceil(19 * 0.1) = 2 logged values: gtpo (0.3+0.19 + 0.3+0.20)/2 = 0.495
    assert "| gtpo | 20 | 0.495 / " in summary
    # grpo: (0.19 + 0.20) / 2 = 0.195 and no conflict columns for it
    assert "| grpo | 20 | 0.195 / " in summary and "| grpo | 20 |" in summary
    assert "0.315 -> 0.495" in summary  # findings: first 10% (steps 1, 2: 0.31, 0.32) -> last 10%
    # conflict view: runs of amplified and protected tokens marked
    assert "[[<reasoning>\n]]7[[</answer>]]" in summary
    assert "~~<reasoning>\n~~8~~</answer>~~" in summary
    assert "3 amplified, 0 protected" in summary and "0 amplified, 3 protected" in summary
    assert "grpo: no conflict_samples.jsonl" in summary
    page = (out / "conflicts.html").read_text()
    assert "<span class='amplified' title='w=2'>&lt;reasoning&gt;</span>" in page
    assert "<span class='protected' title='w=0'>&lt;/answer&gt;</span>" in page


def test_cli_default_output_and_errors(tmp_path, capsys):
    run = _write_run(tmp_path / "one")
    assert main([str(run)]) == 0
    assert (run / "report" / "summary.md").is_file()
    assert main([str(tmp_path / "missing")]) == 2
    assert "has no metrics.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(run), "--labels", "a", "b"])
    with pytest.raises(SystemExit):
        main([str(run), "--nope"])


def test_the_collapse_monitors_step_is_marked(tmp_path):
    from gtpo.report import findings

    run_dir = _write_run(tmp_path / "gtpo")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows[11]["collapse"] = 2.0  # the monitor warned at step 12 (entropy)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = findings([load_run(run_dir, "gtpo")], 0.1)
    assert "- collapse monitor (gtpo): warned at step 12 (entropy below the limit); dotted line in the plots." in lines
    assert not any("collapse" in line for line in findings([load_run(_write_run(tmp_path / "quiet"), "q")], 0.1))


def _reward_run(path, rewards, weights, values):
    path.mkdir(parents=True)
    rows = [{"step": s + 1, "reward": sum(v.values()), **{f"reward/{k}": x for k, x in v.items()}} for s, v in enumerate(values)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "run_config.yaml").write_text(json.dumps({"algo": "grpo", "rewards": {"rewards": rewards},
                                                      "training": {"reward_weights": weights}}))  # fmt: skip
    return path


def test_reward_panel_comes_from_the_runs_functions_and_unlogged_panels_are_omitted(tmp_path):
    from gtpo.report import reward_plot, write_plots

    paper = load_run(_reward_run(tmp_path / "paper", ["format", "correctness"], [1.0, 1.0],
                                 [{"format": 10.0, "correctness": 0.0}] * 3))  # fmt: skip
    assert reward_plot([paper]) == ("Mean reward: format + correctness (0..20)", (0.0, 20.0))
    mine = load_run(_reward_run(tmp_path / "mine", ["./my_reward.py:score", "mod:brevity"], [0.5, 1.0],
                                [{"score": 1.0, "brevity": 0.2}] * 3))  # fmt: skip
    assert mine.rewards == ["score", "brevity"]
    assert reward_plot([mine]) == ("Mean reward: 0.5 x score + brevity", None)  # unknown range: axis follows data
    assert reward_plot([paper, mine])[1] is None
    out = tmp_path / "report"
    out.mkdir()
    assert write_plots([mine], out) == ["overview.png", "reward.png", "reward_functions.png"]
    assert sorted(p.name for p in out.iterdir()) == ["overview.png", "reward.png", "reward_functions.png"]
