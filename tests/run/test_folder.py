"""gtpo.run.folder: which folders hold a run, what --overwrite deletes, what --resume may change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from gtpo.run.folder import (
    RunFinished,
    RunFolderError,
    changed_fields,
    clear_run,
    holds_run,
    open_run_folder,
    record_end,
    run_files,
)


def folder_hash(folder: Path) -> str:
    """Names, contents and kinds of everything under `folder`: equal hashes, byte-for-byte equal folders."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"<dir>")
    return digest.hexdigest()


def training(max_steps: int = 2, resume_from_checkpoint=None):
    return SimpleNamespace(max_steps=max_steps, resume_from_checkpoint=resume_from_checkpoint)


def config(**training_fields) -> dict:
    fields = {"learning_rate": 1e-3, "max_steps": 2, "save_steps": 1, "output_dir": "x", **training_fields}
    return {"algo": "gtpo", "task": {"task": "arith", "task_limit": 32}, "guards": {"reward_timeout": 120.0},
            "run": {"resume": None, "overwrite": False}, "model": {"model_name_or_path": "m"}, "training": fields}


def make_run(folder: Path, steps=(1, 2), ended: int | None = None, **training_fields) -> Path:
    """A run folder as gtpo train leaves it: checkpoints, metrics.jsonl, run_config.yaml, the final model."""
    folder.mkdir(parents=True, exist_ok=True)
    for step in steps:
        (folder / f"checkpoint-{step}").mkdir()
        (folder / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": 2}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in steps))
    recorded = config(**training_fields)
    if ended is not None:
        recorded["ended"] = {"step": ended, "max_steps": ended}
    (folder / "run_config.yaml").write_text(yaml.safe_dump(recorded))
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "README.md").write_text("---\nlibrary_name: transformers\ntags:\n- generated_from_trainer\n---\n# card\n")
    return folder


def test_what_holds_a_run(tmp_path):
    assert not holds_run(tmp_path / "missing") and not holds_run(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert not holds_run(tmp_path)
    for marker in ("metrics.jsonl", "checkpoint-3", ".tmp-checkpoint-3", "run_config.yaml"):
        folder = tmp_path / marker.replace(".", "_")
        folder.mkdir()
        (folder / marker).mkdir() if "checkpoint" in marker else (folder / marker).write_text("")
        assert holds_run(folder), marker


def test_overwrite_deletes_the_run_and_keeps_other_files(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    (run / "runs").mkdir()  # TensorBoard's event files
    (run / ".tmp-checkpoint-3").mkdir()
    deleted, kept = clear_run(run)
    assert sorted(p.name for p in kept) == ["notes.txt"]
    assert {p.name for p in deleted} >= {"checkpoint-1", "checkpoint-2", "metrics.jsonl", "run_config.yaml",
                                         "model.safetensors", "README.md", "runs", ".tmp-checkpoint-3"}  # fmt: skip
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_overwrite_deletes_the_old_runs_report_but_not_a_folder_of_the_users(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "report").mkdir()  # `gtpo report run` writes run/report/ by default: the old run's plots
    for name in ("summary.md", "conflicts.html", "overview.png"):
        (run / "report" / name).write_text("old run")
    (run / "mine").mkdir()
    (run / "mine" / "summary.md").write_text("my notes")
    _, kept = clear_run(run)
    assert sorted(p.name for p in kept) == ["mine"]


def test_a_readme_that_is_not_a_model_card_is_kept(tmp_path):
    (tmp_path / "README.md").write_text("# my notes\n")
    (tmp_path / "metrics.jsonl").write_text("")
    assert [p.name for p in run_files(tmp_path)] == ["metrics.jsonl"]


def test_a_folder_holding_a_run_is_refused_without_resume_and_left_unchanged(tmp_path):
    run = make_run(tmp_path / "run")
    before = folder_hash(run)
    with pytest.raises(RunFolderError, match=r"holds a run.*--resume to continue it, or --overwrite"):
        open_run_folder(run, resume=None, overwrite=False, training=training(), config=config())
    with pytest.raises(RunFolderError, match="choose one"):
        open_run_folder(run, resume="last", overwrite=True, training=training(), config=config())
    assert folder_hash(run) == before
    fresh = open_run_folder(tmp_path / "new", resume=None, overwrite=False, training=training(), config=config())
    assert fresh.checkpoint is None and fresh.resumes == []


def test_resume_of_a_finished_run_trains_nothing_and_changes_nothing(tmp_path):
    run = make_run(tmp_path / "run")
    before = folder_hash(run)
    with pytest.raises(RunFinished, match=r"already reached step 2 of max_steps=2: nothing to train"):
        open_run_folder(run, resume="last", overwrite=False, training=training(), config=config())
    # save_strategy 'no': no checkpoint, the end recorded in run_config.yaml
    ended = make_run(tmp_path / "ended", steps=(), ended=2)
    with pytest.raises(RunFinished, match="already reached step 2"):
        open_run_folder(ended, resume="last", overwrite=False, training=training(), config=config())
    with pytest.raises(RunFolderError, match="ended at step 2 without a checkpoint"):  # more steps: nothing to resume
        open_run_folder(ended, resume="last", overwrite=False, training=training(4), config=config(max_steps=4))
    assert folder_hash(run) == before


def test_resume_refuses_fields_the_checkpoint_carries_and_applies_the_others(tmp_path):
    run = make_run(tmp_path / "run", temperature=1.0)
    before = folder_hash(run)
    new = config(learning_rate=0.05, max_steps=4)
    new["task"]["task_limit"] = 64
    with pytest.raises(RunFolderError, match=r"task_limit=64 \(the run's: 32\), learning_rate=0.05 \(the run's: 0.001\)"):
        open_run_folder(run, resume="last", overwrite=False, training=training(4), config=new)
    with pytest.raises(RunFolderError, match=r"temperature=0.5 \(the run's: 1.0\)"):  # a command's own fixed field
        open_run_folder(run, resume="last", overwrite=False, training=training(4), fixed=("temperature",),
                        config=config(max_steps=4, temperature=0.5))  # fmt: skip
    assert folder_hash(run) == before
    new = config(max_steps=4, save_steps=2)
    new["guards"]["reward_timeout"] = 30.0
    start = open_run_folder(run, resume="last", overwrite=False, training=training(4), config=new)
    assert start.checkpoint == str(run / "checkpoint-2")
    assert start.resumes == [{"step": 2, "checkpoint": "checkpoint-2", "changed": {
        "reward_timeout": {"was": 120.0, "now": 30.0}, "max_steps": {"was": 2, "now": 4},
        "save_steps": {"was": 1, "now": 2}}}]  # fmt: skip


def test_changed_fields_ignore_the_derived_ones():
    old, new = config(), config(output_dir="y", model_init_kwargs={"dtype": "float32"})
    new["run"]["resume"] = "last"
    assert changed_fields(old, new) == {}
    assert changed_fields({**old, "algo": "gtpo"}, {**new, "algo": "grpo"}) == {"algo": ("algorithm", "gtpo", "grpo")}


def test_record_end_marks_the_finished_run(tmp_path):
    make_run(tmp_path, steps=())
    record_end(tmp_path, SimpleNamespace(global_step=5, max_steps=5))
    assert yaml.safe_load((tmp_path / "run_config.yaml").read_text())["ended"] == {"step": 5, "max_steps": 5}
    record_end(tmp_path / "none", SimpleNamespace(global_step=5, max_steps=5))  # no run_config.yaml: nothing written
    assert not (tmp_path / "none").exists()


def test_resume_without_a_checkpoint_starts_again_at_step_0(tmp_path):
    run = make_run(tmp_path / "run", steps=())  # killed before its first checkpoint: logs, no checkpoint
    start = open_run_folder(run, resume="last", overwrite=False, training=training(),
                            config=config(learning_rate=0.05))  # nothing was kept, so nothing to compare  # fmt: skip
    assert start.checkpoint is None and start.resumes == []
