"""The custom task: your own columns, prompts as text or chat messages, any source format, 1-based errors."""

from __future__ import annotations

import csv
import json

import pytest
from datasets import Dataset, DatasetDict

from gtpo.tasks import TaskSourceError, load_task

OPTIONS = {"prompt_field": "question", "answer_field": "target"}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_own_fields_chat_prompts_system_prompt_and_other_columns(tmp_path):
    rows = [
        {"question": "2 + 2?", "target": 4, "level": "easy"},
        {"question": [{"role": "system", "content": "Mine."}, {"role": "user", "content": "3 + 3?"}], "target": 6,
         "level": "hard", "id": 17},
        {"question": [{"role": "user", "content": "1 + 0?"}], "target": 1},  # no level: None there
    ]  # fmt: skip
    ds = load_task(
        "custom",
        "train",
        source=_jsonl(tmp_path / "d.jsonl", rows),
        options={**OPTIONS, "system_prompt": "S"},
    )
    assert ds.column_names == ["prompt", "answer", "id", "target", "level"]
    assert ds["answer"] == [4, 6, 1] and ds["target"] == [4, 6, 1] and ds["level"] == ["easy", "hard", None]
    assert ds["id"] == ["train-0", "17", "train-2"]
    assert ds[0]["prompt"] == [{"role": "system", "content": "S"}, {"role": "user", "content": "2 + 2?"}]
    assert ds[1]["prompt"][0] == {"role": "system", "content": "Mine."} and len(ds[1]["prompt"]) == 2  # kept
    assert ds[2]["prompt"] == [{"role": "system", "content": "S"}, {"role": "user", "content": "1 + 0?"}]
    plain = load_task("custom", "train", source=tmp_path / "d.jsonl", options=OPTIONS)
    assert plain[0]["prompt"] == [{"role": "user", "content": "2 + 2?"}]  # no system prompt by default


def test_every_source_format_gives_the_same_rows(tmp_path):
    rows = [{"prompt": "a?", "answer": "1", "x": "u"}, {"prompt": "b?", "answer": "2", "x": "v"}]
    _jsonl(tmp_path / "d.jsonl", rows)
    (tmp_path / "d.json").write_text(json.dumps(rows))
    with open(tmp_path / "d.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["prompt", "answer", "x"])
        writer.writeheader()
        writer.writerows(rows)
    Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "folder").mkdir()
    _jsonl(tmp_path / "folder" / "validation.jsonl", rows)
    expected = load_task("custom", "test", source=tmp_path / "d.jsonl").to_list()
    assert [r["answer"] for r in expected] == ["1", "2"] and expected[0]["x"] == "u"
    for source in ("d.json", "d.csv", "d.parquet", "saved"):
        assert load_task("custom", "test", source=tmp_path / source).to_list() == expected, source
    assert load_task("custom", "validation", source=tmp_path / "folder")["answer"] == ["1", "2"]
    assert load_task("custom", "train", source=tmp_path / "saved")["answer"] == ["1", "2"]  # its only split
    DatasetDict({"test": Dataset.from_list(rows), "dev": Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "two")
    )
    with pytest.raises(TaskSourceError, match="has no split 'train' .it has test, dev.; pass --task_split"):
        load_task("custom", "train", source=tmp_path / "two")


def test_bad_rows_are_named_by_file_line_or_row_1_based(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"question": "q", "target": 1}) + "\n\n" + json.dumps({"question": "q"}) + "\n"
    )
    with pytest.raises(
        TaskSourceError, match=r"d\.jsonl:3: field 'target' is missing \(answer_field; pass --answer_field"
    ):
        load_task("custom", "train", source=path, options=OPTIONS)
    with pytest.raises(TaskSourceError, match=r"d\.jsonl:1: field 'prompt' is missing \(prompt_field"):
        load_task("custom", "train", source=path)
    (tmp_path / "d.json").write_text(
        json.dumps([{"prompt": "p", "answer": "1"}, {"prompt": 3, "answer": "2"}])
    )
    with pytest.raises(
        TaskSourceError, match=r"d\.json: row 2: field 'prompt' is int; give text or a list of chat"
    ):
        load_task("custom", "train", source=tmp_path / "d.json")
    with open(tmp_path / "d.csv", "w", newline="") as f:
        csv.writer(f).writerows([["prompt", "answer"], ["two\nlines", "1"], ["q", " "]])
    with pytest.raises(
        TaskSourceError, match=r"d\.csv:4: field 'answer' is empty"
    ):  # record 2 starts on line 4
        load_task("custom", "train", source=tmp_path / "d.csv")
    Dataset.from_list([{"prompt": "p", "answer": "1"}, {"prompt": "", "answer": "1"}]).to_parquet(
        str(tmp_path / "d.parquet")
    )
    with pytest.raises(TaskSourceError, match=r"row 2 of .*d\.parquet: field 'prompt' is empty"):
        load_task("custom", "train", source=tmp_path / "d.parquet")
    _jsonl(path, [{"prompt": [{"role": "robot", "content": "x"}], "answer": "1"}])
    with pytest.raises(TaskSourceError, match="d.jsonl:1: field 'prompt' message 1 has role 'robot'"):
        load_task("custom", "train", source=path)
    _jsonl(path, [{"prompt": "p", "answer": 1}, {"prompt": "p", "answer": "x"}])
    with pytest.raises(TaskSourceError, match=r"column 'answer' \(int and str\) mixes types"):
        load_task("custom", "train", source=path)


def test_options_are_checked():
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) \['prompt_fild'\]; valid: prompt_field, answer_field"
    ):
        load_task("custom", "train", source="x.jsonl", options={"prompt_fild": "q"})
    with pytest.raises(ValueError, match="prompt_field and answer_field are both 'q'"):
        load_task("custom", "train", source="x.jsonl", options={"prompt_field": "q", "answer_field": "q"})
    with pytest.raises(TaskSourceError, match="task 'custom' has no default hub dataset"):
        load_task("custom", "train")
