"""load_task on the shared benchmark data (all six sets), selection, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtpo.tasks import (
    MATH_SUBJECTS,
    SYSTEM_PROMPT,
    TASKS,
    TaskSourceError,
    build_prompt,
    canonical_subject,
    load_task,
)

# name, split, rows, first answer, first id (files as listed in the data README)
EXPECTED = [
    ("gsm8k", "train", 7473, "72", "train-0"),
    ("gsm8k", "test", 1319, "18", "test-0"),
    ("math", "test", 5000, "2", "test/algebra/1.json"),
    ("math500", "test", 500, r"\left( 3, \frac{\pi}{2} \right)", "test/precalculus/807.json"),
    ("aime24", "test", 30, "204", "60"),
    ("aime25", "test", 30, "70", "2025-I-1"),
    ("amc23", "test", 40, "27", "0"),
]


def test_prompt_is_the_papers():
    assert SYSTEM_PROMPT.startswith("You are a helpful assistant for solving math problems.")
    assert "<reasoning> and </reasoning>" in SYSTEM_PROMPT and "<answer> and </answer>" in SYSTEM_PROMPT
    assert build_prompt("1+1?") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "1+1?"},
    ]
    with pytest.raises(ValueError, match="problem"):
        build_prompt("  ")


@pytest.mark.parametrize("name, split, rows, answer, ident", EXPECTED)
def test_load_shared_data(shared_data, name, split, rows, answer, ident):
    ds = load_task(name, split, source=shared_data)  # the root folder: {name}/{split}.jsonl
    assert len(ds) == rows
    expected_columns = {"prompt", "answer", "id"} | (
        {"subject", "level"} if name.startswith("math") else set()
    ) | ({"solution"} if name in ("gsm8k", "math") else set())
    assert set(ds.column_names) == expected_columns
    first = ds[0]
    assert first["answer"] == answer and first["id"] == ident
    assert first["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert first["prompt"][1]["role"] == "user" and first["prompt"][1]["content"]
    assert all(a.strip() for a in ds["answer"])


def test_aime_amc_answers_are_normalised(shared_data):
    aime24 = load_task("aime24", "test", source=shared_data / "aime24" / "test.jsonl")
    raw = [json.loads(line)["answer"] for line in (shared_data / "aime24" / "test.jsonl").open()]
    assert "025" in raw and "25" in aime24["answer"] and "025" not in aime24["answer"]
    amc = load_task("amc23", "test", source=shared_data / "amc23")
    assert (
        "27" in amc["answer"] and "-1" in amc["answer"] and not any(a.endswith(".0") for a in amc["answer"])
    )


def test_math_train_skips_the_two_empty_boxes(shared_data):
    with pytest.warns(UserWarning, match=r"skipped 2 row\(s\).*7115\.json.*7117\.json"):
        ds = load_task("math", "train", source=shared_data / "math")
    assert len(ds) == 7498
    assert set(ds["subject"]) == set(MATH_SUBJECTS)
    assert set(ds["level"]) == {1, 2, 3, 4, 5, None}  # two "Level ?" rows


def test_math_subjects_filter(shared_data):
    ds = load_task("math", "test", source=shared_data, subjects=["counting_and_probability", "GEOMETRY"])
    assert len(ds) == 474 + 479
    assert set(ds["subject"]) == {"Counting & Probability", "Geometry"}
    m500 = load_task("math500", "test", source=shared_data, subjects="Number Theory")
    assert len(m500) == 62
    assert canonical_subject("intermediate_algebra") == "Intermediate Algebra"
    assert canonical_subject("counting and probability") == "Counting & Probability"
    with pytest.raises(ValueError, match="valid subjects: Algebra, Counting & Probability"):
        load_task("math", "test", source=shared_data, subjects=["calculus"])
    with pytest.raises(ValueError, match="subjects= is empty"):
        load_task("math", "test", source=str(shared_data), subjects=[])
    with pytest.raises(ValueError, match="only applies to 'math'"):
        load_task("gsm8k", "test", source=shared_data, subjects=["algebra"])


def test_limit_is_a_deterministic_shuffled_prefix(shared_data):
    a = load_task("gsm8k", "test", source=shared_data, limit=20, seed=3)
    b = load_task("gsm8k", "test", source=shared_data, limit=20, seed=3)
    c = load_task("gsm8k", "test", source=shared_data, limit=5, seed=3)
    d = load_task("gsm8k", "test", source=shared_data, limit=20, seed=4)
    assert a["id"] == b["id"] and c["id"] == a["id"][:5] and d["id"] != a["id"]
    assert a["id"] != [f"test-{i}" for i in range(20)]  # shuffled, not the head of the file
    assert len(load_task("aime24", "test", source=shared_data, limit=1000)) == 30
    with pytest.raises(ValueError, match="limit"):
        load_task("gsm8k", "test", source=shared_data, limit=0)


def test_split_and_name_errors(shared_data):
    for name in ("math500", "aime24", "aime25", "amc23"):
        with pytest.raises(ValueError, match="only the split"):
            load_task(name, "train", source=shared_data)
    with pytest.raises(ValueError, match="unknown task 'gsm9k'; choose one of: gsm8k, math"):
        load_task("gsm9k", "test")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bad_rows_name_row_field_and_file(tmp_path):
    path = _write(tmp_path / "test.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q"}])
    with pytest.raises(TaskSourceError, match=r"row 1 of .*test\.jsonl: field 'answer' is missing"):
        load_task("gsm8k", "test", source=path)
    _write(path, [{"question": "q", "answer": "no marker"}])
    with pytest.raises(TaskSourceError, match=r"row 0 of .*: field 'answer' has no '#### <final answer>'"):
        load_task("gsm8k", "test", source=path)
    _write(path, [{"problem": "p", "answer": "  ", "subject": "Algebra", "level": 1}])
    with pytest.raises(TaskSourceError, match="row 0 .*field 'answer' is empty"):
        load_task("math500", "test", source=tmp_path)
    _write(path, [{"problem": "p", "answer": "x"}])
    with pytest.raises(TaskSourceError, match="field 'answer' is not an integer"):
        load_task("aime25", "test", source=path)
    _write(path, [{"problem": "p", "solution": "\\boxed{1}", "type": "Calculus", "level": "Level 1"}])
    with pytest.raises(TaskSourceError, match="field 'type' unknown MATH subject 'Calculus'"):
        load_task("math", "test", source=path)
    path.write_text('{"question": "q", "answer": "#### 1"}\nnot json\n', encoding="utf-8")
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:2: not valid JSON"):
        load_task("gsm8k", "test", source=path)


def test_missing_local_source_errors(tmp_path):
    with pytest.raises(TaskSourceError, match=r"no train\.jsonl for task 'gsm8k'.*fields: question"):
        load_task("gsm8k", "train", source=tmp_path)
    with pytest.raises(TaskSourceError, match="does not exist"):
        load_task("gsm8k", "train", source=tmp_path / "nope.jsonl")


def test_hub_unreachable_says_to_pass_source(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        TaskSourceError, match=r"openai/gsm8k .*offline \(HF_HUB_OFFLINE is set\)\. Pass --source PATH"
    ):
        load_task("gsm8k", "test")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(TaskSourceError, match=r"someone/data.*ConnectionError: offline.*fields: problem"):
        load_task("aime24", "test", source="someone/data")


def test_hub_rows_are_converted(monkeypatch):
    """Hub rows in the native fields go through the same converter; MATH loads one config per subject."""
    import datasets

    calls = []

    def fake(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        subject = "Geometry" if config == "geometry" else "Trigonometry"
        return datasets.Dataset.from_list(
            [{"problem": "p", "solution": "so \\boxed{3}", "type": subject, "level": "Level 2"}]
        )

    monkeypatch.setattr(datasets, "load_dataset", fake)
    ds = load_task("math", "test", subjects=["geometry"])
    assert calls == [("EleutherAI/hendrycks_math", "geometry", "test")]
    assert ds[0]["answer"] == "3" and ds[0]["level"] == 2 and ds[0]["id"] == "test/geometry/0"
    with pytest.raises(TaskSourceError, match="hub dataset EleutherAI/hendrycks_math: field 'type' unknown"):
        load_task("math", "test")  # all seven configs; the fake's "Trigonometry" row is rejected
    assert TASKS["aime24"].hub_splits["test"] == "train"  # the hub copy has a single 'train' split


def test_duplicate_ids_fall_back_to_row_positions(tmp_path):
    rows = [
        {"problem_idx": 1, "problem": "p", "answer": "3"},
        {"problem_idx": 1, "problem": "q", "answer": "4"},
    ]
    path = _write(tmp_path / "test.jsonl", rows)  # two exams, both numbered from 1
    with pytest.warns(UserWarning, match="ids are not unique"):
        ds = load_task("aime25", "test", source=path)
    assert ds["id"] == ["test-0", "test-1"]
    _write(path, [{"problem": 5, "answer": "3"}])
    with pytest.raises(TaskSourceError, match="row 0 .*field 'problem' is not text"):
        load_task("aime25", "test", source=path)


def test_other_hub_ids_use_the_split_or_their_only_split(monkeypatch):
    import datasets

    rows = [{"question": "q", "Answer": "025"}]

    def fake(hub_id, config=None, split=None):
        assert split is None  # another id: all splits are fetched, then one is chosen
        names = {"someone/one-split": ["train"], "someone/two-splits": ["train", "validation"]}[hub_id]
        return datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name in names})

    monkeypatch.setattr(datasets, "load_dataset", fake)
    ds = load_task("aime24", "test", source="someone/one-split")  # aliases: question, Answer
    assert ds["answer"] == ["25"] and ds["id"] == ["0"]
    with pytest.raises(TaskSourceError, match="has no split 'test' \\(it has train, validation\\)"):
        load_task("aime24", "test", source="someone/two-splits")


def test_arith_delegates_to_generator():
    pytest.importorskip("gtpo.tasks.arith")
    ds = load_task("arith", "train", limit=4, seed=1)
    assert len(ds) == 4 and {"prompt", "answer", "id"} <= set(ds.column_names)
    assert ds[0]["prompt"][0]["content"] == SYSTEM_PROMPT
    with pytest.raises(ValueError, match="arith"):
        load_task("arith", "train", source="x.jsonl")
