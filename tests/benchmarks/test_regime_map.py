"""regime_map.py: the paired difference by hand, the run folders' suites, and the map of the committed JSON
checked against the figures other scripts wrote (passk.json, results.json, frame-regime/summary.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from .conftest import load

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"


@pytest.fixture(scope="module")
def rm():
    return load("regime_map")


def test_paired_difference_by_hand(rm):
    # Seeds both have: 0, 1, 2 (seed 3 has no GRPO run, seed 5 no GTPO run, seed 4's GTPO value is missing).
    # d = 0.5 - 0.4, 0.4 - 0.4, 0.3 - 0.1 = 0.1, 0.0, 0.2; mean 0.1
    # sample variance ((0)^2 + (-0.1)^2 + (0.1)^2) / (3 - 1) = 0.01; SE = sqrt(0.01 / 3) = 0.057735
    p = rm.paired({0: 0.5, 1: 0.4, 2: 0.3, 3: 0.2, 4: None}, {0: 0.4, 1: 0.4, 2: 0.1, 4: 0.3, 5: 0.9})
    assert p["seeds"] == [0, 1, 2] and p["n"] == 3
    assert p["mean"] == pytest.approx(0.1)
    assert p["se"] == pytest.approx(math.sqrt(0.01 / 3)) == pytest.approx(0.057735, abs=1e-6)
    assert (p["higher"], p["level"], p["lower"]) == (2, 1, 0)
    one = rm.paired({0: 0.2}, {0: 0.5})  # one seed: a difference, no SE
    assert one["mean"] == pytest.approx(-0.3) and one["se"] is None and one["lower"] == 1
    assert rm.paired({0: 0.2}, {1: 0.5}) is None


def test_a_suite_with_fewer_than_16_samples_has_no_pass16(rm):
    gtpo = {0: {"pass@1": 0.3, "pass@16": None}, 1: {"pass@1": 0.5, "pass@16": None}}
    grpo = {0: {"pass@1": 0.2, "pass@16": None}, 1: {"pass@1": 0.2, "pass@16": None}}
    row = rm.suite({"id": "x"}, gtpo, grpo, [0.4, 0.6], samples=4)
    assert row["pass@16"] is None and row["pass@1"]["mean"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2
    assert row["conflict_share_pos"] == pytest.approx(0.5) and row["conflict_share_range"] == [0.4, 0.6]
    assert rm.cell(row["pass@16"], 4, 16) == ("- (4 samples per problem)", "-")


def archive(
    img: Path, folder: str, name: str, seed: int, lr: str, acc: float, pass16: float, shares: list, steps="80"
):
    run = img / folder / f"{name}-s{seed}-x"
    run.mkdir(parents=True)
    algo = ["--algo", "gtpo"] if name == "gtpo" else ["--algo", "grpo", "--beta", "0.0"]
    argv = [*algo, "--max_steps", steps, "--per_device_train_batch_size", "16", "--learning_rate", lr,
            "--task", "explain", "--seed", str(seed)]  # fmt: skip
    metrics = [{"step": i + 1, "conflict_frac_pos": c} for i, c in enumerate(shares)]
    evaluation = {"problems": 8, "n": 16, "accuracy": acc, "pass@16": pass16}
    (run / "done.json").write_text(
        json.dumps({"name": name, "seed": seed, "argv": argv, "eval": evaluation, "metrics": metrics})
    )


def test_run_folders_give_one_suite_per_learning_rate(rm, tmp_path):
    # 20 logged steps: the first 10% is steps 1-2. GTPO seed 0: (0.1 + 0.3) / 2 = 0.2; seed 1: (None, 0.4) -> 0.4
    archive(tmp_path, "runs", "gtpo", 0, "0.0001", 0.5, 0.9, [0.1, 0.3] + [0.9] * 18)
    archive(tmp_path, "runs", "gtpo", 1, "0.0001", 0.3, 0.8, [None, 0.4] + [0.9] * 18)
    archive(tmp_path, "runs", "grpo", 0, "0.0001", 0.4, 0.9, [None] * 20)
    archive(tmp_path, "runs", "grpo", 1, "0.0001", 0.4, 0.6, [None] * 20)
    archive(tmp_path, "runs", "grpo-kl", 0, "0.0001", 0.9, 1.0, [None] * 20)  # not part of the comparison
    archive(tmp_path, "lr1e-3/runs", "gtpo", 0, "0.001", 0.0, 0.0, [0.5] * 10)
    archive(tmp_path, "lr1e-3/runs", "grpo", 0, "0.001", 0.1, 0.2, [None] * 10)
    low, high = rm.run_suites(tmp_path, "tiny", ("runs", "lr*/runs"))
    assert (low["id"], low["lr"], low["task"], low["samples"]) == ("explain-tiny-1e-4", 1e-4, "explain", 16)
    assert low["seeds"] == [0, 1]
    assert low["conflict_share_pos"] == pytest.approx((0.2 + 0.4) / 2)
    # pass@1: d = 0.1, -0.1 -> mean 0, SE sqrt((0.01 + 0.01) / 1 / 2) = 0.1; pass@16: d = 0.0, 0.2 -> 0.1 +- 0.1
    assert low["pass@1"]["mean"] == pytest.approx(0.0) and low["pass@1"]["se"] == pytest.approx(0.1)
    assert low["pass@16"]["mean"] == pytest.approx(0.1) and low["pass@16"]["se"] == pytest.approx(0.1)
    assert (low["pass@16"]["higher"], low["pass@16"]["level"]) == (1, 1)
    assert (
        high["id"] == "explain-tiny-1e-3"
        and high["pass@1"]["se"] is None
        and high["conflict_share_pos"] == 0.5
    )
    assert rm.run_suites(tmp_path, "SmolLM2-135M", ("smollm2/runs",)) == []
    archive(tmp_path, "runs", "grpo", 2, "0.0001", 0.4, 0.6, [None] * 20, steps="40")  # another budget
    with pytest.raises(SystemExit, match="not one suite"):
        rm.run_suites(tmp_path, "tiny", ("runs",))


@pytest.fixture(scope="module")
def committed(rm, tmp_path_factory):
    out = tmp_path_factory.mktemp("map")
    assert rm.main(["--img", str(IMG), "--out", str(out)]) == 0
    assert (out / "regime_map.png").stat().st_size > 10_000
    return json.loads((out / "regime_map.json").read_text()), (out / "regime_map.md").read_text()


def test_the_committed_map_has_a_row_per_suite(rm, committed):
    doc, md = committed
    runs = {
        m: [json.loads(p.read_text()) for pattern in patterns for p in IMG.glob(f"{pattern}/*/done.json")]
        for m, patterns in rm.EXPLAIN
    }  # every archived `explain` run, read here without the script
    lrs = {
        m: {rm.argv_value(d["argv"], "--learning_rate") for d in ds if d["name"] in ("gtpo", "grpo")}
        for m, ds in runs.items()
    }
    expected = [sid for sid, *_ in rm.ARITH] + [s for s in doc["suites"] if s.startswith("explain-")]
    assert sorted(doc["suites"]) == sorted(expected)
    assert len([s for s in doc["suites"] if s.startswith("explain-tiny")]) == len(lrs["tiny"]) >= 2
    smollm2 = [s for s in doc["suites"] if s.startswith("explain-smollm2")]
    assert len(smollm2) == len(lrs["SmolLM2-135M"])
    assert (not smollm2) == any(m["model"] == "SmolLM2-135M" for m in doc["not_measured"])
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| suite")]
    assert len(rows) == len(doc["suites"]) + len(doc["not_measured"])
    for r in doc["suites"].values():
        assert sum(line.startswith(f"| {r['label']} |") for line in rows) == 1
    if not smollm2:
        assert any("| not measured |" in line for line in rows)


@pytest.mark.parametrize(("sid", "folder"), [("arith-tiny-1e-4-b", "negatives-lr1e-4"), ("arith-tiny-1e-3-b", "negatives-lr1e-3"),
                                             ("arith-smollm2-1e-4", "smollm2-negatives"), ("explain-tiny-1e-4", "frame-regime")])  # fmt: skip
def test_differences_agree_with_bench_passk(committed, sid, folder):
    row, passk = committed[0]["suites"][sid], json.loads((IMG / folder / "passk.json").read_text())
    for k in (1, 16):  # bench_passk's own paired-by-seed difference to GRPO: [mean, SE]
        assert [row[f"pass@{k}"]["mean"], row[f"pass@{k}"]["se"]] == pytest.approx(
            passk["gtpo"]["minus_ref"][str(k)]
        )


def test_conflict_shares_and_seeds_agree_with_the_suites_json(rm, committed):
    doc = committed[0]
    for sid, file in (("arith-tiny-1e-4-a", "bench_learning.json"), ("arith-smollm2-1e-4", "smollm2-negatives/results.json"),
                      ("explain-tiny-1e-4", "frame-regime/results.json")):  # fmt: skip
        gtpo = json.loads((IMG / file).read_text())["configs"]["gtpo"]
        assert doc["suites"][sid]["conflict_share_pos"] == pytest.approx(
            gtpo["training"]["conflict_frac_pos"]["first10%"]["mean"]
        )
        assert doc["suites"][sid]["seeds"] == gtpo["seeds"]
    assert doc["suites"]["arith-tiny-1e-4-a"]["pass@16"] is None  # 4 samples per problem
    # results.json's per-run first10% values are the rule applied to the runs' metrics (SmolLM2's are archived)
    runs = sorted(
        (json.loads(p.read_text()) for p in IMG.glob("smollm2-negatives/runs/gtpo-s*/done.json")),
        key=lambda d: d["seed"],
    )
    shares = [rm.phase_mean([m.get("conflict_frac_pos") for m in d["metrics"]], 0.0, 0.1) for d in runs]
    stored = json.loads((IMG / "smollm2-negatives/results.json").read_text())["configs"]["gtpo"]["training"]
    assert shares == pytest.approx(stored["conflict_frac_pos"]["first10%"]["values"])


def test_explain_rows_agree_with_frame_summary(committed):
    summary = json.loads((IMG / "frame-regime" / "summary.json").read_text())["tiny"]["runs"]
    for sid in [s for s in committed[0]["suites"] if s.startswith("explain-tiny")]:
        row = committed[0]["suites"][sid]
        for k, key in ((1, "accuracy"), (16, "pass_at_16")):
            by = {
                c: {r["seed"]: r[key] for r in summary if r["config"] == c and r["lr"] == row["lr"]}
                for c in ("gtpo", "grpo")
            }
            diffs = [by["gtpo"][s] - by["grpo"][s] for s in sorted(by["gtpo"]) if s in by["grpo"]]
            assert row[f"pass@{k}"]["diffs"] == pytest.approx(diffs)
            assert row[f"pass@{k}"]["higher"] == sum(d > 0 for d in diffs)


def test_the_left_out_suites_repeat_the_kept_runs(rm):
    # variants-lr1e-4 and components reuse the learning suites' GTPO and GRPO runs: one row each, not two
    for kept, repeat in (("bench_learning.json", "variants-lr1e-4/bench_variants.json"),
                         ("lr1e-3/bench_learning.json", "lr1e-3/bench_components.json")):  # fmt: skip
        a, b = (rm.from_results(IMG / f) for f in (kept, repeat))
        assert a[0] == b[0] and a[1] == b[1]


def test_the_committed_map_is_up_to_date(rm):
    # The docs state figures of docs/img/regime-map/regime_map.json (benchmarks/doc_figures.py): when runs are
    # archived or a suite's JSON changes, rerun `.venv/bin/python benchmarks/regime_map.py` and the docs' check.
    committed = json.loads((IMG / "regime-map" / "regime_map.json").read_text())
    assert committed == json.loads(json.dumps(rm.build(IMG))), "stale: rerun benchmarks/regime_map.py"
