"""gtpo.verl.data (no verl needed): tasks as verl's parquet, the paper's rewards as verl's compute_score."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from gtpo.verl.data import compute_score, main, write_task

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gsm8k_five.jsonl"
GOOD = "<reasoning>\n2 + 2 = 4\n</reasoning>\n<answer>\n4\n</answer>"


def test_compute_score_is_format_plus_correctness():
    assert compute_score("gsm8k", GOOD, "4") == 20.0  # format 10 + correctness 10
    assert compute_score("gsm8k", GOOD, "5") == 10.0  # formatted, wrong answer
    assert compute_score("gsm8k", "4", "4") == 0.0  # no format: no credit at all
    assert compute_score("gsm8k", GOOD + " more", "4") == 2.0  # both blocks, answer not last: 1 + 1


def test_write_task_gives_verls_columns(tmp_path):
    path = write_task("gsm8k", "test", tmp_path / "test.parquet", source=str(FIXTURE))
    table = pq.read_table(path).to_pylist()
    assert len(table) == 5
    row = table[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["data_source"] == "gsm8k" and row["ability"] == "math"
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["reward_model"]["style"] == "rule" and row["reward_model"]["ground_truth"] == "7"
    assert row["extra_info"]["index"] == 0 and row["extra_info"]["split"] == "test"


def test_cli_writes_both_splits(tmp_path, capsys):
    assert main(["arith", "--out", str(tmp_path), "--limit", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.parquet", "train.parquet"]
    assert pq.read_table(tmp_path / "train.parquet").num_rows == 3
