"""gtpo.run.plugins: your code by file path or module, loaded once per process, errors that name the fix."""

from __future__ import annotations

import sys

import pytest

from gtpo.run.plugins import is_spec, load_object, task_name
from gtpo.tasks import task_names, unregister_task


def test_a_file_is_loaded_once_whatever_path_names_it(tmp_path, monkeypatch):
    (tmp_path / "counted_31.py").write_text("import builtins\nbuiltins.LOADS_31 = getattr(builtins, 'LOADS_31', 0) + 1\n"
                                           "def f(x):\n    return x + 1\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    first = load_object("./counted_31.py:f", "rewards")
    assert first(1) == 2 and load_object(f"{tmp_path}/counted_31.py:f", "rewards") is first
    assert load_object("counted_31.py:f", "--grader") is first
    import builtins

    assert builtins.LOADS_31 == 1
    assert first.__module__.startswith("gtpo_user.counted_31_") and sys.modules[first.__module__].f is first
    del builtins.LOADS_31


def test_errors_name_the_option_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.py").write_text("x = 1\ny = 1 / 0\n")
    with pytest.raises(
        ValueError, match=r"--grader: './broken.py:x': .*broken.py at line 2 raised ZeroDivisionError"
    ):
        load_object("./broken.py:x", "--grader")
    with pytest.raises(
        ValueError, match=r"rewards: './nope.py:f': no file .*nope.py \(a relative path is read from"
    ):
        load_object("./nope.py:f", "rewards")
    (tmp_path / "ok.py").write_text("def score(c):\n    return 0.0\n")
    with pytest.raises(ValueError, match=r"'ok.py:scor': ok.py defines no 'scor' \(it has: score\)"):
        load_object("ok.py:scor", "rewards")
    with pytest.raises(ValueError, match=r"cannot import 'no_such_mod_31'.*'./no_such_mod_31.py:NAME'"):
        load_object("no_such_mod_31:f", "rewards")


def test_spec_forms():
    assert is_spec("./r.py:score") and is_spec("/a/b.py:f") and is_spec("r.py:f") and is_spec("pkg.mod:f")
    assert is_spec("~/x.py:f") and is_spec("../x.py:f")
    assert not is_spec("format") and not is_spec("r.py") and not is_spec("pkg mod:f") and not is_spec(":f")


def test_a_task_registered_in_a_file_is_found_by_name(tmp_path):
    (tmp_path / "sums_31.py").write_text(
        "from gtpo.tasks import Task, register_task\n"
        "register_task(Task(name='sums31', splits=('test',), fields='q', convert=lambda row, split, i: row))\n"
    )
    try:
        assert task_name(f"{tmp_path}/sums_31.py:sums31") == "sums31" and "sums31" in task_names()
        assert task_name("gsm8k") == "gsm8k"
        with pytest.raises(ValueError, match=r"--task: unknown task 'sums3'; choose one of: gsm8k, .*custom, sums31, "
                           r"or name a task registered in your own file as './my_tasks.py:sums3'"):  # fmt: skip
            task_name("sums3", "--task")
        with pytest.raises(ValueError, match=r"task: .*sums_31.py:other.*registers no task 'other'"):
            task_name(f"{tmp_path}/sums_31.py:other")
    finally:
        unregister_task("sums31")
