"""The run folder: whether a command may write into it, what `--overwrite` clears, what `--resume` continues.

A folder holds a run when it has a `checkpoint-*/` (complete or not), an interrupted save
(`.tmp-checkpoint-*/`), `metrics.jsonl` or `run_config.yaml`. `open_run_folder` is called by every
training command (`gtpo train`, `gtpo sft`) after parsing and before anything is written or loaded:

- a folder that holds a run, without `--resume` or `--overwrite`: `RunFolderError` (exit 2), the
  folder untouched;
- `--overwrite`: the old run's files (`run_files`: checkpoints, logs, run_config.yaml, the final model
  and tokenizer, TRL's model card, TensorBoard's `runs/`, `gtpo report`'s default `report/`) are
  deleted first; other files are left and named on stderr;
- `--resume` (or TRL's `resume_from_checkpoint`): the checkpoint to continue from
  (`recipe.resume_checkpoint`), then
  1. the fields the run cannot change (`FIXED_SECTIONS`, `FIXED_TRAINING` and the command's own) are
     compared with the run's run_config.yaml: any difference is a `RunFolderError` naming each field,
     its new value and the run's. These are the fields the checkpoint carries (the optimizer's and the
     schedule's settings: transformers restores them from optimizer.pt / scheduler.pt, so a new value
     would be recorded but not used) or that define the run's data position and objective;
  2. every other differing field is applied from the resume on and recorded in run_config.yaml under
     `resumes` (`{step, checkpoint, changed: {field: {was, now}}}`), beside the values now in force;
  3. a run that already reached its `max_steps` (the checkpoint's step, or the step recorded under
     `ended` in run_config.yaml when the run finished) raises `RunFinished`: nothing is trained or
     written, exit 0. A larger `--max_steps` continues it.

run_config.yaml gets `ended: {step, max_steps}` when a run finishes (`record_end`); a run that starts
or resumes rewrites run_config.yaml without it.

`new_folder_removed_on_failure(output_dir)` wraps a command's set-up (data, rewards, tokenizer, trainer):
when the command created the folder and the set-up fails, the folder goes with it, so a refused command
leaves no empty folder behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from gtpo.run.checkpoints import COMPLETE_MARKER, STAGING_PREFIX, OutputDirError, RunFinished
from gtpo.run.io import write_text_atomic

RUN_CONFIG = "run_config.yaml"
RUN_MARKERS = ("checkpoint-*", f"{STAGING_PREFIX}*", "metrics.jsonl", RUN_CONFIG)  # any of them: a run
RUN_FILES = (
    *RUN_MARKERS, "conflict_samples.jsonl", "adapter", "runs",  # gtpo's logs, the merged-LoRA adapter, TensorBoard
    "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "config.json", "generation_config.json",
    "adapter_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "chat_template.jinja", "vocab.json", "merges.txt", "tokenizer.model", "training_args.bin", COMPLETE_MARKER,
    "all_results.json", "train_results.json",
)  # fmt: skip
MODEL_CARD = "README.md"  # TRL's model card: deleted only when it is one (tagged generated_from_trainer)
REPORT = ("report", ("summary.md", "conflicts.html"))  # `gtpo report RUN_DIR`'s default output: deleted when it is one

# Fields a resumed run cannot change (each section by name, and the training config's fields by name).
FIXED_SECTIONS = ("task", "rewards", "model")
FIXED_FIELDS = ("algo",)
FIXED_TRAINING = (
    # restored from the checkpoint's optimizer.pt / scheduler.pt, so a new value would not be used
    "learning_rate", "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps", "warmup_ratio", "optim",
    "optim_args", "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay",
    # the data order and the position in it (transformers skips the batches already trained)
    "per_device_train_batch_size", "gradient_accumulation_steps", "seed", "data_seed",
)  # fmt: skip
NOT_COMPARED = ("output_dir", "resume_from_checkpoint", "model_init_kwargs", "resume", "overwrite")


class RunFolderError(OutputDirError):
    """The run folder holds a run this command may not write into as asked; the message names the fix."""


@dataclasses.dataclass
class RunStart:
    """What a command starts: the checkpoint to resume from (None: step 0) and the resume history to record."""

    checkpoint: str | None
    resumes: list[dict[str, Any]]


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def holds_run(output_dir: str | Path) -> bool:
    """True when `output_dir` has a checkpoint, an interrupted save, metrics.jsonl or run_config.yaml."""
    folder = Path(output_dir).expanduser()
    return folder.is_dir() and any(_matches(p.name, RUN_MARKERS) for p in folder.iterdir())


def run_files(output_dir: str | Path) -> list[Path]:
    """The entries of `output_dir` that a training run writes (what `--overwrite` deletes)."""
    folder = Path(output_dir).expanduser()
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _matches(p.name, RUN_FILES)]
    card = folder / MODEL_CARD
    text = card.read_text(errors="replace") if card.is_file() else ""
    if text.startswith("---") and "generated_from_trainer" in text:
        found.append(card)
    report, written = folder / REPORT[0], REPORT[1]
    if report.is_dir() and all((report / name).is_file() for name in written):  # the old run's plots and summary
        found.append(report)
    return sorted(found)


def clear_run(output_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """Delete the run's files in `output_dir`; returns (deleted, kept: the other entries)."""
    folder = Path(output_dir).expanduser()
    deleted = run_files(folder)
    for path in deleted:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    kept = sorted(folder.iterdir()) if folder.is_dir() else []
    return deleted, kept


def read_run_config(folder: str | Path) -> dict[str, Any] | None:
    """The run_config.yaml of `folder`, or None when there is none (or it does not parse as a mapping)."""
    path = Path(folder) / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _flat(config: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """field -> (section, value) over the sections of a run_config mapping (the recipe is flat: names are unique)."""
    out: dict[str, tuple[str, Any]] = {}
    for section, values in config.items():
        if section in ("algo", "gtpo_variant", "resumes", "ended") or not isinstance(values, dict):
            continue
        for name, value in values.items():
            out.setdefault(name, (section, value))
    return out


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[str, Any, Any]]:
    """field -> (section, the run's value, the new value) for every compared field whose value differs."""
    before, after = _flat(old), _flat(yaml.safe_load(yaml.safe_dump(new, sort_keys=False)))
    if old.get("algo") != new.get("algo"):
        before["algo"], after["algo"] = ("algorithm", old.get("algo")), ("algorithm", new.get("algo"))
    return {
        name: (section, before[name][1], value)
        for name, (section, value) in after.items()
        if name in before and name not in NOT_COMPARED and before[name][1] != value
    }


def _step_of(checkpoint: str | None) -> tuple[int, int]:
    """(global_step, max_steps) recorded in a checkpoint's trainer_state.json; (0, 0) without one."""
    if checkpoint is None:
        return 0, 0
    state = json.loads((Path(checkpoint) / COMPLETE_MARKER).read_text())
    return int(state.get("global_step", 0)), int(state.get("max_steps", 0) or 0)


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else repr(value)


def open_run_folder(output_dir: str | Path, *, resume: str | None, overwrite: bool, training: Any,
                    config: dict[str, Any], fixed: tuple[str, ...] = (), prog: str = "gtpo train") -> RunStart:
    """Check `output_dir` before a run writes into it (see the module docstring) and return what it starts.

    `config`: the new run's run_config mapping (`recipe.run_config`); `fixed`: the command's own fields a
    resume cannot change, besides `FIXED_SECTIONS`, `FIXED_FIELDS` and `FIXED_TRAINING`."""
    from gtpo.run.recipe import note, resume_checkpoint

    folder = Path(output_dir).expanduser()
    resuming = bool(resume) or training.resume_from_checkpoint not in (None, False)
    if resuming and overwrite:
        raise RunFolderError("--resume and --overwrite: choose one (--resume continues the run in output_dir, "
                             "--overwrite deletes it and starts again)")  # fmt: skip
    if overwrite:
        if int(os.environ.get("RANK", "0")) != 0:  # one process deletes (the others load nothing yet)
            return RunStart(None, [])
        deleted, kept = clear_run(folder)
        if deleted:
            others = f"; kept {len(kept)} other entries: {', '.join(p.name for p in kept[:5])}" if kept else ""
            note(f"{prog}: --overwrite: deleted the run in {folder} ({len(deleted)} entries){others}")
        return RunStart(None, [])
    if not resuming:
        if holds_run(folder):
            raise RunFolderError(
                f"output_dir={str(output_dir)!r} holds a run (checkpoints, metrics.jsonl or run_config.yaml); add "
                "--resume to continue it, or --overwrite to delete it and start again (or choose another --output_dir)"
            )
        return RunStart(None, [])

    checkpoint = resume_checkpoint(resume, training, folder, prog=prog)
    origin = Path(checkpoint).parent if checkpoint is not None else folder
    old = read_run_config(origin)
    step, recorded_max = _step_of(checkpoint)
    ended = (old or {}).get("ended") or {}
    if old is not None and (checkpoint is not None or ended):
        changes = changed_fields(old, config)
        refused = {name: change for name, change in changes.items()
                   if change[0] in FIXED_SECTIONS or name in FIXED_FIELDS + FIXED_TRAINING + tuple(fixed)}  # fmt: skip
        if refused:
            listed = ", ".join(f"{name}={_show(now)} (the run's: {_show(was)})" for name, (_, was, now) in refused.items())
            raise RunFolderError(
                f"--resume: {listed} differ from {origin / RUN_CONFIG}; a resumed run keeps its model, data, objective, "
                "optimizer and schedule. Drop these options to continue, or --overwrite to start again (or train from "
                f"the checkpoint's weights into a new --output_dir)"
            )
    else:
        changes = {}
    target = training.max_steps if training.max_steps > 0 else recorded_max or int(ended.get("max_steps", 0) or 0)
    reached = max(step, int(ended.get("step", 0) or 0))
    if target and reached >= target:
        raise RunFinished(f"{prog}: {folder} already reached step {reached} of max_steps={target}: nothing to train, "
                          "nothing changed. To train further, resume with a larger --max_steps")  # fmt: skip
    if checkpoint is None and ended:
        raise RunFolderError(
            f"--resume: the run in {folder} ended at step {ended.get('step')} without a checkpoint to continue from "
            "(save_strategy 'no'); --overwrite to start again, or train from its final model into a new --output_dir"
        )
    if checkpoint is None:  # nothing to continue: the run starts again at step 0 (its logs are cut to step 0)
        return RunStart(None, [])
    resumes = list((old or {}).get("resumes") or [])
    entry: dict[str, Any] = {"step": step, "checkpoint": Path(checkpoint).name}
    resumes.append(entry)
    note(f"{prog}: resuming from {checkpoint}")
    if changes:
        entry["changed"] = {name: {"was": was, "now": now} for name, (_, was, now) in changes.items()}
        note(f"{prog}: --resume applies {', '.join(entry['changed'])} from step {step} (recorded in "
             f"{RUN_CONFIG} under resumes)")  # fmt: skip
    return RunStart(checkpoint, resumes)


def record_end(output_dir: str | Path, state: Any) -> None:
    """Add `ended: {step, max_steps}` to OUTPUT/run_config.yaml once a run finished (`state`: the TrainerState)."""
    path = Path(output_dir) / RUN_CONFIG
    config = read_run_config(output_dir)
    if config is None:
        return
    config["ended"] = {"step": int(state.global_step), "max_steps": int(state.max_steps)}
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))


@contextlib.contextmanager
def new_folder_removed_on_failure(output_dir: str | Path):
    """Run a command's set-up; if it raises (a refused input, Ctrl-C while the model loads), remove the folders
    it created for `output_dir` (the folder and any parents that did not exist before): they hold only what this
    set-up wrote, no run. Rank 0 removes them; under torchrun another rank may create the folder before rank 0
    looks, and then it stays, as a folder without a run."""
    path = Path(output_dir).expanduser().absolute()
    top = next((folder for folder in (*reversed(path.parents), path) if not folder.exists()), None)
    try:
        yield path
    except BaseException:
        if top is not None and os.environ.get("RANK", "0") == "0":
            shutil.rmtree(top, ignore_errors=True)
        raise
