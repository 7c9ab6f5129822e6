"""frame_summary.py: summary.json in the issue's schema from start measurements and archived runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import load


@pytest.fixture(scope="module")
def fs():
    return load("frame_summary")


def archived(folder: Path, name: str, seed: int, lr: str, acc: float, fmt: float, pass16, conflicts: list,
             fmts: list | None = None) -> None:
    run = folder / f"{name}-s{seed}-{lr}"
    run.mkdir(parents=True)
    evaluation = {"accuracy": acc, "format_rate": fmt, **({"pass@16": pass16, "maj@16": 0.625} if pass16 is not None else {})}
    fmts = fmts or [1.0] * len(conflicts)
    n = len(conflicts)  # training accuracy rises from 0.25 (first 10%) to 0.75 (last 10%) with 20 steps
    metrics = [{"step": i + 1, "conflict_frac_pos": c, "format_rate": f, "entropy": 0.5,
                "accuracy": 0.25 if i < n // 10 else 0.75 if i >= n - n // 10 else 0.5} for i, (c, f) in
               enumerate(zip(conflicts, fmts, strict=True))]  # fmt: skip
    argv = ["--algo", "gtpo", "--learning_rate", "1e-4", "--learning_rate", lr, "--seed", str(seed)]
    (run / "done.json").write_text(json.dumps({"name": name, "seed": seed, "argv": argv, "eval": evaluation,
                                               "metrics": metrics}))  # fmt: skip


def test_summary_schema_and_values(fs, tmp_path):
    img = tmp_path / "img"
    runs = img / "runs"
    # 20 logged steps: the first 10% is steps 1-2; GTPO seed 0 -> (0.1 + 0.3) / 2 = 0.2, seed 1 -> (None, 0.4) -> 0.4
    archived(runs, "gtpo", 0, "1e-3", 0.5, 0.9, 0.8, [0.1, 0.3] + [0.9] * 18)
    archived(runs, "gtpo", 1, "1e-3", 0.7, 1.0, 0.9, [None, 0.4] + [0.9] * 18)
    archived(runs, "grpo", 0, "1e-3", 0.4, 0.8, 0.7, [None] * 20)
    archived(runs, "grpo", 1, "1e-3", 0.4, 0.6, None, [None] * 20, fmts=[0.9] * 5 + [0.4] + [0.9] * 4 + [0.2] * 10)
    archived(img / "lr1e-4" / "runs", "grpo", 0, "1e-4", 0.3, 0.9, 0.6, [None] * 10)  # another lr's folder
    (img / "start-tiny.json").write_text(json.dumps({"median_completion_tokens": 112, "conflict_share_pos": 0.05,
                                                     "accuracy": 0.3, "format_rate": 0.95}))  # fmt: skip
    summary, md = fs.build(img)
    assert set(summary) == {"tiny", "smollm2"}
    tiny = summary["tiny"]
    assert set(tiny) == {"median_completion_tokens", "conflict_share_pos", "runs"}
    assert tiny["median_completion_tokens"] == 112.0
    assert tiny["conflict_share_pos"] == pytest.approx((0.2 + 0.4) / 2)  # the runs' figure wins over the start's
    assert [(r["config"], r["lr"], r["seed"]) for r in tiny["runs"]] == [
        ("grpo", 1e-4, 0), ("grpo", 1e-3, 0), ("grpo", 1e-3, 1), ("gtpo", 1e-3, 0), ("gtpo", 1e-3, 1)]
    by = {(r["config"], r["seed"]): r for r in tiny["runs"]}
    assert by[("gtpo", 1)] == {"config": "gtpo", "seed": 1, "lr": 1e-3, "accuracy": 0.7, "format_rate": 1.0,
                               "pass_at_16": 0.9}  # the LAST --learning_rate of the command line  # fmt: skip
    assert by[("grpo", 1)]["pass_at_16"] is None
    assert summary["smollm2"] == {"median_completion_tokens": None, "conflict_share_pos": None, "runs": []}
    # Paired by seed: accuracy gtpo - grpo = (0.1, 0.3) -> +0.200 +- 0.100; pass@16 has one shared seed.
    assert "| gtpo | 0.001 | 0,1 | 0.600 ± 0.141 | 0.950 ± 0.071 | 0.850 ± 0.071 | +0.200 ± 0.100 (2 seeds) | +0.100 (1 seed) |" in md
    assert "| grpo | 0.0001 | 0 | 0.300 | 0.900 | 0.600 | - | - |" in md  # no GRPO-at-1e-4 pairing across lrs
    # format over the last 10% (steps 19-20: 0.2), accuracy and entropy first -> last 10% (steps 1-2 -> 19-20),
    # the conflict share over steps 1-2 ((0.1 + 0.3) / 2 = 0.2; none for GRPO) and the first step below 0.5 (step 6)
    assert "| grpo | 0.001 | 1 | - | 0.200 | 0.250 -> 0.750 | 0.500 -> 0.500 | - | 6 |" in md
    assert "| gtpo | 0.001 | 0 | 0.625 | 1.000 | 0.250 -> 0.750 | 0.500 -> 0.500 | 0.200 | never |" in md
    json.dumps(summary)  # plain JSON


def test_start_figure_when_no_gtpo_run_finished(fs, tmp_path):
    img = tmp_path / "img"
    (img / "runs").mkdir(parents=True)
    (img / "start-smollm2.json").write_text(json.dumps({"median_completion_tokens": 160.5, "conflict_share_pos": 0.12}))
    summary, _ = fs.build(img)
    assert summary["smollm2"]["conflict_share_pos"] == 0.12
    assert summary["smollm2"]["median_completion_tokens"] == 160.5
    assert summary["tiny"]["runs"] == []


def test_main_writes_files_and_rejects_unfinished_runs(fs, tmp_path):
    img = tmp_path / "img"
    (img / "runs" / "bad").mkdir(parents=True)
    (img / "runs" / "bad" / "done.json").write_text(json.dumps({"name": "gtpo", "seed": 0, "argv": []}))
    with pytest.raises(SystemExit, match="not a finished bench_learning run"):
        fs.main(["--img", str(img)])
    (img / "runs" / "bad" / "done.json").write_text(json.dumps({"name": "gtpo", "seed": 0, "argv": [], "eval": {},
                                                                "metrics": []}))  # fmt: skip
    with pytest.raises(SystemExit, match="no --learning_rate"):
        fs.main(["--img", str(img)])
    (img / "runs" / "bad" / "done.json").unlink()
    assert fs.main(["--img", str(img)]) == 0
    assert json.loads((img / "summary.json").read_text())["tiny"]["runs"] == []
    assert (img / "summary.md").read_text().startswith("# Frame regime")
