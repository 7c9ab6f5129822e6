"""gtpo.verl.data (no verl needed): tasks as verl's parquet, the paper's rewards as verl's compute_score."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

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


def test_custom_task_with_its_fields_and_columns_in_extra_info(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    data.write_text('{"question": "2+2?", "target": 4, "level": "easy"}\n{"question": "3+3?", "target": 6, "level": "hard"}\n')
    argv = ["custom", "--task_source", str(data), "--prompt_field", "question", "--answer_field", "target",
            "--system_prompt", "Be brief.", "--out", str(tmp_path / "out"), "--splits", "train"]  # fmt: skip
    assert main(argv) == 0
    rows = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert [r["prompt"] for r in rows][1] == [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "3+3?"}]  # fmt: skip
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["4", "6"]
    assert rows[0]["data_source"] == "custom"
    # the data's other columns reach verl's reward function through extra_info, as TRL's rewards get them
    assert rows[1]["extra_info"] == {"split": "train", "index": 1, "id": "train-1", "target": 6, "level": "hard"}
    assert "note" not in capsys.readouterr().err  # one split asked for: nothing to say
    assert main([*argv[:-2], "--out", str(tmp_path / "both")]) == 0  # train and test from the one file
    assert "holds no separate splits: test hold the same rows as train" in capsys.readouterr().err


def test_a_folder_with_split_files_gives_each_split_and_no_note(tmp_path, capsys):
    for split, n in (("train", 3), ("test", 2)):
        rows = "".join(f'{{"prompt": "q{split}{i}", "answer": {i}}}\n' for i in range(n))
        (tmp_path / f"{split}.jsonl").write_text(rows)
    assert main(["--task", "custom", "--source", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert "note" not in capsys.readouterr().err
    assert [pq.read_table(tmp_path / "out" / f"{s}.parquet").num_rows for s in ("train", "test")] == [3, 2]


def test_a_column_named_like_an_extra_info_key_is_refused(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    data.write_text('{"prompt": "2+2?", "answer": 4, "index": 99}\n')
    assert main(["custom", "--source", str(data), "--splits", "train", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "column 'index' of your data would replace extra_info['index']" in err and "rename" in err
    assert not (tmp_path / "out").exists()


def test_out_is_expanded_and_an_unwritable_out_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["arith", "--limit", "2", "--splits", "test", "--out=~/verl"]) == 0
    assert (tmp_path / "verl" / "test.parquet").exists() and not Path("~").exists()
    (tmp_path / "afile").write_text("")
    assert main(["arith", "--limit", "2", "--splits", "test", "--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write test.parquet" in err and "--out" in err


def test_the_task_once_as_argument_or_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["arith", "--task", "arith", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "give the task once" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path)])


def test_bad_selection_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    data.write_text('{"question": "2+2?", "target": 4}\n')
    out = tmp_path / "out"
    assert main(["custom", "--task_source", str(data), "--out", str(out)]) == 2  # no prompt_field: 'prompt' missing
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mine.jsonl:1" in err and "--prompt_field" in err
    assert main(["arith", "--prompt_field", "q", "--out", str(out)]) == 2
    assert "only the custom task takes them" in capsys.readouterr().err
    assert main(["arith", "--task_options", "{bad", "--out", str(out)]) == 2
    assert "task_options" in capsys.readouterr().err
    assert not out.exists()


def test_generated_task_options_reach_the_data(tmp_path):
    assert main(["arith", "--task_options", '{"max_steps": 1, "max_operand": 9}', "--limit", "20", "--out",
                 str(tmp_path), "--splits", "test"]) == 0  # fmt: skip
    answers = [int(r["reward_model"]["ground_truth"]) for r in pq.read_table(tmp_path / "test.parquet").to_pylist()]
    # one step of + or - on operands 1..9: answers in -8..18 (the default max_operand, 50, gives larger ones)
    assert len(answers) == 20 and all(-8 <= a <= 18 for a in answers)
