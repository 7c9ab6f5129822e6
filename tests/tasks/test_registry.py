"""gtpo.tasks.registry: registering tasks (built-in and from outside the package) and load_task's
sources, selection and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gtpo.tasks
from gtpo.tasks import (
    SYSTEM_PROMPT,
    RowError,
    Task,
    TaskSourceError,
    get_task,
    integer_reference,
    load_task,
    register_task,
    task_names,
)
from gtpo.tasks.base import row_answer, row_field, row_prompt
from gtpo.tasks.registry import unregister_task

BUILT_IN = ("gsm8k", "math", "math500", "aime24", "aime25", "amc23", "arith", "explain", "custom")

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


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# A task defined outside the package: sums with integer answers, in its own JSONL fields.
def convert_sum(row: dict, split: str, index: int) -> dict:
    terms = row_field(row, "terms")
    if not isinstance(terms, list) or not terms:
        raise RowError("terms", "is not a non-empty list of numbers")
    return {
        "prompt": row_prompt({"q": "What is " + " + ".join(map(str, terms)) + "?"}, "q"),
        "answer": row_answer("total", integer_reference, row_field(row, "total")),
        "id": str(row.get("id", f"{split}-{index}")),
        "terms": len(terms),
    }


SUMS = Task(
    name="sums",
    splits=("train", "test"),
    fields="terms (list of int), total (int), optional id",
    convert=convert_sum,
    description="tiny sums, a test task",
)


@pytest.fixture
def sums_task():
    task = register_task(SUMS)
    yield task
    unregister_task("sums")


def test_built_ins_are_registered_in_order():
    assert task_names() == BUILT_IN
    assert not hasattr(gtpo.tasks, "TASKS") and not hasattr(gtpo.tasks, "TASK_NAMES")
    assert get_task("aime24").hub_splits["test"] == "train"  # the hub copy has a single 'train' split
    assert [n for n in BUILT_IN if get_task(n).has_solutions] == ["gsm8k", "math", "arith", "explain"]
    assert [n for n in BUILT_IN if get_task(n).subjects] == ["math", "math500"]
    assert [n for n in BUILT_IN if get_task(n).generated] == ["arith", "explain"]


def test_a_task_from_outside_the_package_loads_from_jsonl(sums_task, tmp_path):
    assert get_task("sums") is sums_task and task_names() == (*BUILT_IN, "sums")
    rows = [{"terms": [1, 2], "total": 3}, {"terms": [4, 5, 6], "total": "015", "id": "b"}, {"terms": [7], "total": 7}]
    path = _write(tmp_path / "sums.jsonl", rows)
    ds = load_task("sums", "test", source=path)
    assert ds.column_names == ["prompt", "answer", "id", "terms"]
    assert ds["answer"] == ["3", "15", "7"] and ds["id"] == ["test-0", "b", "test-2"] and ds["terms"] == [2, 3, 1]
    assert ds[0]["prompt"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "What is 1 + 2?"},
    ]
    # a folder holding {split}.jsonl or {name}/{split}.jsonl works too, and limit samples the same way
    (tmp_path / "sums").mkdir()
    _write(tmp_path / "sums" / "train.jsonl", rows)
    assert load_task("sums", "train", source=tmp_path, limit=2, seed=1)["id"] == (
        load_task("sums", "train", source=tmp_path / "sums", limit=3, seed=1)["id"][:2]
    )
    _write(path, [{"terms": [], "total": 0}])
    with pytest.raises(TaskSourceError, match=r"sums\.jsonl:1: field 'terms' is not a non-empty list.*"
                       r"Expected fields: terms \(list of int\)"):
        load_task("sums", "test", source=path)
    with pytest.raises(TaskSourceError, match="task 'sums' has no default hub dataset. Pass --source PATH"):
        load_task("sums", "test")
    with pytest.raises(ValueError, match=r"takes no options \(got \['x'\]\); options are for 'arith', 'explain' and 'custom'"):
        load_task("sums", "test", source=path, options={"x": 1})
    with pytest.raises(ValueError, match="subjects= only applies to 'math' and 'math500', not 'sums'"):
        load_task("sums", "test", source=path, subjects=["algebra"])


def test_duplicate_registration_is_refused(sums_task):
    with pytest.raises(ValueError, match="task 'sums' is already registered; pick another name or pass replace=True"):
        register_task(SUMS)
    with pytest.raises(ValueError, match="task 'gsm8k' is already registered"):
        register_task(Task("gsm8k", ("test",), "question (str)", convert_sum))
    assert get_task("gsm8k").hub_id == "openai/gsm8k"  # the built-in is untouched
    other = Task("sums", ("test",), "terms, total", convert_sum)
    assert register_task(other, replace=True) is other and get_task("sums") is other
    with pytest.raises(TypeError, match="expects a gtpo.tasks.Task"):
        register_task({"name": "dict-task"})


def test_unknown_task_lists_the_registered_ones(sums_task):
    message = "unknown task 'gsm9k'; choose one of: gsm8k, math, math500, aime24, aime25, amc23, arith, explain, custom, sums"
    with pytest.raises(ValueError, match=message):
        get_task("gsm9k")
    with pytest.raises(ValueError, match=message):
        load_task("gsm9k", "test")
    unregister_task("sums")
    with pytest.raises(ValueError, match="choose one of: gsm8k, .*, arith, explain, custom$"):
        get_task("sums")
    register_task(SUMS)  # for the fixture's teardown


def test_a_generated_task_from_outside_the_package():
    from datasets import Dataset

    calls = []

    def generate(split, n, seed, options):
        calls.append((split, n, seed, options))
        return Dataset.from_dict({"prompt": [[]] * (n or 2), "answer": ["1"] * (n or 2), "id": ["x"] * (n or 2)})

    register_task(Task("ones", ("train",), generate=generate))
    try:
        assert len(load_task("ones", "train")) == 2 and len(load_task("ones", "train", limit=3, seed=5)) == 3
        load_task("ones", "train", options={"k": 1})
        assert calls == [("train", None, 0, None), ("train", 3, 5, None), ("train", None, 0, {"k": 1})]
        with pytest.raises(ValueError, match="only the split"):
            load_task("ones", "test")
        with pytest.raises(ValueError, match="generated offline: it takes no source or subjects"):
            load_task("ones", "train", source="x.jsonl")
    finally:
        unregister_task("ones")


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


def test_bad_rows_name_row_field_and_file(tmp_path):
    path = _write(tmp_path / "test.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q"}])
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:2: field 'answer' is missing"):
        load_task("gsm8k", "test", source=path)
    _write(path, [{"question": "q", "answer": "no marker"}])
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:1: field 'answer' has no '#### <final answer>'"):
        load_task("gsm8k", "test", source=path)
    _write(path, [{"problem": "p", "answer": "  ", "subject": "Algebra", "level": 1}])
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:1: field 'answer' is empty"):
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
    path.write_text("[1]\n", encoding="utf-8")
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:1: expected a JSON object, got list"):
        load_task("gsm8k", "test", source=path)
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TaskSourceError, match="no rows for task 'gsm8k' split 'test'"):
        load_task("gsm8k", "test", source=path)


def test_missing_local_source_errors(tmp_path):
    with pytest.raises(TaskSourceError, match=r"no train\.jsonl for task 'gsm8k'.*fields: question"):
        load_task("gsm8k", "train", source=tmp_path)
    with pytest.raises(TaskSourceError, match="does not exist"):
        load_task("gsm8k", "train", source=tmp_path / "nope.jsonl")


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
    with pytest.raises(TaskSourceError, match=r"test\.jsonl:1: field 'problem' is not text"):
        load_task("aime25", "test", source=path)


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


def test_default_hub_id_uses_its_split_names(monkeypatch):
    import datasets

    calls = []

    def fake(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        return datasets.Dataset.from_list([{"problem": "p", "answer": "025", "id": 7}])

    monkeypatch.setattr(datasets, "load_dataset", fake)
    ds = load_task("aime24", "test")
    assert calls == [("HuggingFaceH4/aime_2024", None, "train")]
    assert ds.to_list() == [{"prompt": [{"role": "system", "content": SYSTEM_PROMPT},
                                        {"role": "user", "content": "p"}], "answer": "25", "id": "7"}]  # fmt: skip
